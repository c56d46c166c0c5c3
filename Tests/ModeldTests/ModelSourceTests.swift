import Foundation
import Testing
import TestKit

@testable import modeld

@Suite("ModelSource") struct ModelSourceTests {
    @Test func tellsTheKindFromTheFiles() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let gguf = directory.file("tiny.gguf")
        _ = FileManager.default.createFile(atPath: gguf, contents: Data("GGUF\u{3}\0\0\0".utf8))
        let text = directory.file("notes.txt")
        _ = FileManager.default.createFile(atPath: text, contents: Data("hello".utf8))
        let embedding = directory.file("minilm")
        try FileManager.default.createDirectory(atPath: embedding, withIntermediateDirectories: false)
        _ = FileManager.default.createFile(atPath: embedding + "/model.safetensors", contents: Data())
        let empty = directory.file("empty")
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: false)

        #expect(try ModelSource.kind(of: gguf) == .chat)
        #expect(try ModelSource.kind(of: embedding) == .embedding)
        #expect(throws: ModelSourceError.self) { try ModelSource.kind(of: text) }
        #expect(throws: ModelSourceError.self) { try ModelSource.kind(of: empty) }
        #expect(throws: ModelSourceError.self) { try ModelSource.kind(of: directory.file("missing")) }
    }

    @Test func findsTheDefaultLayoutUnderTheModelsFolder() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try FileManager.default.createDirectory(atPath: directory.file("smollm2"), withIntermediateDirectories: false)
        let gguf = directory.file("smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
        _ = FileManager.default.createFile(atPath: gguf, contents: Data("GGUF".utf8))
        try FileManager.default.createDirectory(atPath: directory.file("minilm"), withIntermediateDirectories: false)
        _ = FileManager.default.createFile(atPath: directory.file("minilm/model.safetensors"), contents: Data())

        let chat = try ModelSource.resolve(name: "smollm2", explicitPath: "", modelsDirectory: directory.path)
        #expect(chat == ModelSource(name: "smollm2", path: gguf, kind: .chat))
        let embedding = try ModelSource.resolve(name: "minilm", explicitPath: nil, modelsDirectory: directory.path)
        #expect(embedding == ModelSource(name: "minilm", path: directory.file("minilm"), kind: .embedding))
        // An explicit path wins, whatever the name.
        let renamed = try ModelSource.resolve(name: "tiny", explicitPath: gguf, modelsDirectory: "/nonexistent")
        #expect(renamed.kind == .chat && renamed.path == gguf)
        #expect(throws: ModelSourceError.self) {
            try ModelSource.resolve(name: "other", explicitPath: nil, modelsDirectory: directory.path)
        }
    }
}

@Suite("ModelCommand") struct ModelCommandTests {
    @Test func parsesOptionsFlagsAndArguments() throws {
        let options = try OptionParser(
            ["--chat", "--stop", "a", "--max-tokens", "12", "--stop", "b", "text", "--", "--not-an-option"],
            valued: ["--stop", "--max-tokens"], flags: ["--chat"])
        #expect(options.flag("--chat"))
        #expect(options.all("--stop") == ["a", "b"])
        #expect(try options.int("--max-tokens") == 12)
        #expect(options.positional == ["text", "--not-an-option"])
    }

    @Test func refusesBadCommandLines() {
        #expect(throws: ModelCommand.UsageError.self) {
            try OptionParser(["--bogus"], valued: [], flags: [])
        }
        #expect(throws: ModelCommand.UsageError.self) {
            try OptionParser(["--max-tokens"], valued: ["--max-tokens"], flags: [])
        }
        #expect(throws: ModelCommand.UsageError.self) {
            try OptionParser(["--max-tokens", "many"], valued: ["--max-tokens"], flags: []).int("--max-tokens")
        }
        #expect(ModelCommand.handles("generate") && ModelCommand.handles("embed") && ModelCommand.handles("help"))
        #expect(!ModelCommand.handles("--help"), "--help is the daemon's: it lists the settings")
    }
}
