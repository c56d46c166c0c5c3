import Foundation
import Testing
@testable import Engine

/// Builds safetensors images in memory and writes them to temporary files.
private enum SafeTensorsFixture {
    /// An 8-byte little-endian length, the header text, then `data`.
    static func image(header: String, data: [UInt8], declaredLength: UInt64? = nil) -> [UInt8] {
        let headerBytes = Array(header.utf8)
        let length = declaredLength ?? UInt64(headerBytes.count)
        var bytes: [UInt8] = (0..<8).map { UInt8(truncatingIfNeeded: length >> (8 * UInt64($0))) }
        bytes += headerBytes
        bytes += data
        return bytes
    }

    static func write(_ bytes: [UInt8]) throws -> String {
        let path = NSTemporaryDirectory() + "safetensors-test-\(UUID().uuidString).safetensors"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    static func floatBytes(_ values: [Float]) -> [UInt8] {
        values.flatMap { v in (0..<4).map { UInt8(truncatingIfNeeded: v.bitPattern >> (8 * UInt32($0))) } }
    }

    /// Opens the image and returns the error it throws (nil when it opens).
    static func openError(_ bytes: [UInt8]) throws -> SafeTensorsError? {
        let path = try write(bytes)
        defer { try? FileManager.default.removeItem(atPath: path) }
        do {
            _ = try SafeTensorsFile(path: path)
            return nil
        } catch let error as SafeTensorsError {
            return error
        }
    }

    static let validHeader = #"{"__metadata__":{"format":"pt"},"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},"h":{"dtype":"F16","shape":[3],"data_offsets":[16,22]},"b":{"dtype":"BF16","shape":[2],"data_offsets":[22,26]},"i":{"dtype":"I64","shape":[1],"data_offsets":[26,34]}}"#

    static var validData: [UInt8] {
        var data = floatBytes([1, -2, 3.5, 0.25])
        // F16: 1.0 = 0x3C00, -2.0 = 0xC000, 0.5 = 0x3800
        data += [0x00, 0x3C, 0x00, 0xC0, 0x00, 0x38]
        // BF16: the top halves of 1.5 (0x3FC0_0000) and -4 (0xC080_0000)
        data += [0xC0, 0x3F, 0x80, 0xC0]
        data += [7, 0, 0, 0, 0, 0, 0, 0]
        return data
    }
}

/// The safetensors reader on small files built here: valid ones and corrupt ones.
@Suite struct SafeTensorsTests {
    @Test func safeTensorsReadsAValidFile() throws {
        let path = try SafeTensorsFixture.write(SafeTensorsFixture.image(header: SafeTensorsFixture.validHeader,
                                                                          data: SafeTensorsFixture.validData))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let file = try SafeTensorsFile(path: path)
        #expect(file.names == ["b", "h", "i", "w"])
        #expect(file.metadata == ["format": "pt"])
        #expect(try file.info("w").shape == [2, 2])
        #expect(try file.info("i").dtype == .i64)
        #expect(try file.floats("w") == [1, -2, 3.5, 0.25])
        #expect(try file.floats("w", shape: [2, 2]) == [1, -2, 3.5, 0.25])
        #expect(try file.floats("h") == [1, -2, 0.5])
        #expect(try file.floats("b") == [1.5, -4])
        let raw = try file.withRawBytes("i") { Array($0) }
        #expect(raw == [7, 0, 0, 0, 0, 0, 0, 0])
    }

    @Test func safeTensorsReportsMisuseOfAValidFile() throws {
        let path = try SafeTensorsFixture.write(SafeTensorsFixture.image(header: SafeTensorsFixture.validHeader,
                                                                          data: SafeTensorsFixture.validData))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let file = try SafeTensorsFile(path: path)
        let missing = #expect(throws: SafeTensorsError.self) { try file.floats("nope") }
        #expect(missing?.description.contains("no tensor named 'nope'") == true)
        let shape = #expect(throws: SafeTensorsError.self) { try file.floats("w", shape: [4]) }
        #expect(shape?.description.contains("shape [2, 2], expected [4]") == true)
        let dtype = #expect(throws: SafeTensorsError.self) { try file.floats("i") }
        #expect(dtype?.description.contains("I64") == true)
    }

    /// A file with one F32 tensor of 3 rows × 2 whose data starts `misalignment` bytes past a multiple of
    /// four from the file's start (the header is padded with spaces, as the format allows).
    static func tableFile(misalignment: Int) throws -> String {
        var header = #"{"t":{"dtype":"F32","shape":[3,2],"data_offsets":[0,24]}}"#
        while (8 + header.utf8.count) % 4 != misalignment { header += " " }
        return try SafeTensorsFixture.write(SafeTensorsFixture.image(
            header: header, data: SafeTensorsFixture.floatBytes([1, -2, 3.5, 0.25, 1e-30, -7])))
    }

    @Test func safeTensorsMapsAnAlignedF32TensorInPlace() throws {
        let path = try Self.tableFile(misalignment: 0)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let file = try SafeTensorsFile(path: path)
        let mapped = try #require(try file.mappedFloats("t", shape: [3, 2]))
        #expect(Array(mapped) == [1, -2, 3.5, 0.25, 1e-30, -7])
        // Dropping the resident pages leaves the contents readable from the file.
        file.releaseResidentPages()
        #expect(Array(mapped) == (try file.floats("t")))
        let shape = #expect(throws: SafeTensorsError.self) { try file.mappedFloats("t", shape: [6]) }
        #expect(shape?.description.contains("shape [3, 2], expected [6]") == true)
        let table = try BertEmbeddingTable(file, name: "t", vocabulary: 3, width: 2)
        #expect(table.isMapped)
        #expect(Array(UnsafeBufferPointer(start: table.row(2), count: 2)) == [1e-30, -7])
    }

    @Test func safeTensorsCopiesWhatCannotBeMapped() throws {
        // A misaligned F32 tensor and an F16 one are not handed out in place; the embedding table copies them.
        let path = try Self.tableFile(misalignment: 1)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let file = try SafeTensorsFile(path: path)
        #expect(try file.mappedFloats("t", shape: [3, 2]) == nil)
        let table = try BertEmbeddingTable(file, name: "t", vocabulary: 3, width: 2)
        #expect(!table.isMapped)
        #expect(Array(UnsafeBufferPointer(start: table.row(0), count: 6)) == [1, -2, 3.5, 0.25, 1e-30, -7])
        let halves = try SafeTensorsFixture.write(SafeTensorsFixture.image(header: SafeTensorsFixture.validHeader,
                                                                            data: SafeTensorsFixture.validData))
        defer { try? FileManager.default.removeItem(atPath: halves) }
        #expect(try SafeTensorsFile(path: halves).mappedFloats("h", shape: [3]) == nil)
    }

    @Test func safeTensorsRejectsMissingAndTinyFiles() throws {
        let missing = #expect(throws: SafeTensorsError.self) { try SafeTensorsFile(path: "/nonexistent/x.safetensors") }
        #expect(missing?.description.contains("/nonexistent/x.safetensors") == true)
        #expect(try SafeTensorsFixture.openError([])?.description.contains("too small") == true)
        #expect(try SafeTensorsFixture.openError([1, 2, 3, 4])?.description.contains("too small") == true)
    }

    @Test func safeTensorsRejectsATruncatedHeader() throws {
        // The length field promises the whole header but the file stops half-way through it.
        let full = SafeTensorsFixture.image(header: SafeTensorsFixture.validHeader, data: SafeTensorsFixture.validData)
        let cut = Array(full.prefix(8 + 40))
        let error = try #require(try SafeTensorsFixture.openError(cut))
        #expect(error.description.contains("header length"))
    }

    @Test(arguments: [UInt64(1 << 40), UInt64.max, UInt64(1) << 63])
    func safeTensorsRejectsAHeaderLengthBeyondTheFile(length: UInt64) throws {
        let bytes = SafeTensorsFixture.image(header: "{}", data: [], declaredLength: length)
        let error = try #require(try SafeTensorsFixture.openError(bytes))
        #expect(error.description.contains("header length \(length) exceeds"))
    }

    @Test func safeTensorsRejectsAHeaderOverTheLimit() throws {
        // A sparse file big enough to hold the header, so only the limit can reject it.
        let length = UInt64(SafeTensorsFile.maxHeaderLength + 1)
        let path = try SafeTensorsFixture.write(SafeTensorsFixture.image(header: "", data: [], declaredLength: length))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.truncate(atOffset: 8 + length)
        try handle.close()
        let error = #expect(throws: SafeTensorsError.self) { try SafeTensorsFile(path: path) }
        #expect(error?.description.contains("exceeds the 100000000-byte limit") == true)
    }

    @Test(arguments: ["{not json", "", "{\"a\": ", "\u{0}\u{1}"])
    func safeTensorsRejectsBadJSON(header: String) throws {
        let error = try #require(try SafeTensorsFixture.openError(SafeTensorsFixture.image(header: header, data: [])))
        #expect(error.description.contains("not valid JSON"))
    }

    @Test func safeTensorsRejectsANonObjectHeader() throws {
        let error = try #require(try SafeTensorsFixture.openError(SafeTensorsFixture.image(header: "[1,2]", data: [])))
        #expect(error.description.contains("not a JSON object"))
    }

    @Test func safeTensorsRejectsOffsetsOutOfRange() throws {
        let header = #"{"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,1000]}}"#
        let error = try #require(try SafeTensorsFixture.openError(SafeTensorsFixture.image(header: header, data: Array(repeating: 0, count: 16))))
        #expect(error.description.contains("'w' data_offsets [0, 1000] are outside the 16-byte data section"))

        let reversed = #"{"w":{"dtype":"F32","shape":[0],"data_offsets":[8,4]}}"#
        let error2 = try #require(try SafeTensorsFixture.openError(SafeTensorsFixture.image(header: reversed, data: Array(repeating: 0, count: 16))))
        #expect(error2.description.contains("outside"))

        let negative = #"{"w":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}}"#
        #expect(try SafeTensorsFixture.openError(SafeTensorsFixture.image(header: negative, data: Array(repeating: 0, count: 16))) != nil)
    }

    @Test func safeTensorsRejectsOffsetsThatDoNotMatchTheShape() throws {
        let header = #"{"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,12]}}"#
        let error = try #require(try SafeTensorsFixture.openError(SafeTensorsFixture.image(header: header, data: Array(repeating: 0, count: 16))))
        #expect(error.description.contains("'w' spans 12 bytes but its shape and dtype need 16"))

        let overflow = #"{"w":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,16]}}"#
        #expect(try SafeTensorsFixture.openError(SafeTensorsFixture.image(header: overflow, data: Array(repeating: 0, count: 16))) != nil)
    }

    @Test func safeTensorsRejectsAnUnknownDType() throws {
        let header = #"{"w":{"dtype":"F128","shape":[1],"data_offsets":[0,16]}}"#
        let error = try #require(try SafeTensorsFixture.openError(SafeTensorsFixture.image(header: header, data: Array(repeating: 0, count: 16))))
        #expect(error.description.contains("unknown dtype 'F128'"))
    }

    @Test(arguments: [
        #"{"w":{"shape":[1],"data_offsets":[0,4]}}"#,
        #"{"w":{"dtype":"F32","data_offsets":[0,4]}}"#,
        #"{"w":{"dtype":"F32","shape":[1]}}"#,
        #"{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#,
        #"{"w":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}"#,
        #"{"w":{"dtype":"F32","shape":["1"],"data_offsets":[0,4]}}"#,
        #"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0]}}"#,
        #"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4.5]}}"#,
        #"{"w":{"dtype":7,"shape":[1],"data_offsets":[0,4]}}"#,
        #"{"w":[1,2,3]}"#,
        #"{"__metadata__":{"a":1}}"#,
        #"{"__metadata__":[]}"#,
    ])
    func safeTensorsRejectsMalformedEntries(header: String) throws {
        let error = try #require(try SafeTensorsFixture.openError(SafeTensorsFixture.image(header: header, data: Array(repeating: 0, count: 16))))
        #expect(!error.description.isEmpty)
    }

    /// Random corruption of a valid file must give an error or a consistent file, never a crash.
    @Test func safeTensorsSurvivesRandomCorruption() throws {
        let valid = SafeTensorsFixture.image(header: SafeTensorsFixture.validHeader, data: SafeTensorsFixture.validData)
        var generator = SystemRandomNumberGenerator()
        for round in 0..<300 {
            var bytes = valid
            if round % 3 == 0 {
                bytes = Array(bytes.prefix(Int.random(in: 0..<bytes.count, using: &generator)))
            } else {
                for _ in 0..<Int.random(in: 1...4, using: &generator) {
                    let at = Int.random(in: 0..<bytes.count, using: &generator)
                    bytes[at] = UInt8.random(in: 0...255, using: &generator)
                }
            }
            let path = try SafeTensorsFixture.write(bytes)
            defer { try? FileManager.default.removeItem(atPath: path) }
            if let file = try? SafeTensorsFile(path: path) {
                for name in file.names {
                    // Reading any tensor the validator accepted stays inside the mapping.
                    _ = try? file.floats(name)
                    _ = try file.withRawBytes(name) { $0.count }
                }
            }
        }
    }
}
