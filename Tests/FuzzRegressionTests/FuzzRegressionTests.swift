import Foundation
import Testing

/// Every input a fuzzer crashed on (fuzz/regressions/TARGET/*) and every seed (fuzz/corpus/TARGET/*),
/// fed to the fuzzers' own code (FuzzHarness.swift, linked from fuzz/): each parser must return a value
/// or an error value. A trap, an overflow or an out-of-bounds read ends this process and fails the run.
@Suite struct FuzzRegressionTests {
    static let fuzzDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("fuzz")

    static func files(_ folder: String, _ target: String) -> [URL] {
        let directory = fuzzDirectory.appendingPathComponent(folder).appendingPathComponent(target)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { !$0.hasPrefix(".") }.sorted().map { directory.appendingPathComponent($0) }
    }

    @Test(arguments: FuzzHarness.targets.map(\.name))
    func everyRegressionAndSeedIsAnsweredWithoutACrash(target name: String) throws {
        let target = try #require(FuzzHarness.target(named: name))
        let seeds = Self.files("corpus", name)
        #expect(!seeds.isEmpty, "fuzz/corpus/\(name) has no seed")
        for file in Self.files("regressions", name) + seeds {
            target.run(Array(try Data(contentsOf: file)))
        }
    }
}
