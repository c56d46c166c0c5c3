/// The snapshot file's layout, little-endian throughout (docs/cached.md, "Warm restarts"):
///
/// ```
/// header   "INFERCSN" | version u16 (1) | reserved u16 | written at (wall ns) i64
/// record   kind u8 (1 stored, 2 stored + semantic, 3 semantic only) | key
///          | [model | value]                 (kinds 1, 2)
///          | stored at i64 | expires at i64  (wall ns)
///          | [group | dimension u32 | dimension × f32]   (kinds 2, 3)
/// trailer  0xFF | records u64 | CRC-32C u32 of every byte before it
/// ```
/// Strings and byte strings are a u32 length and the bytes. A reader believes nothing before the CRC
/// matches, then checks every length against what is left and the protocol's own limits.
enum SnapshotCodec {
    static let magic: [UInt8] = Array("INFERCSN".utf8)
    static let version: UInt16 = 1
    static let headerSize = 8 + 2 + 2 + 8
    static let trailerSize = 1 + 8 + 4
    static let trailerKind: UInt8 = 0xFF

    private enum Kind: UInt8 {
        case stored = 1
        case storedSemantic = 2
        case semanticOnly = 3
    }

    /// Why a file was not believed.
    struct Corrupt: Error, Equatable, CustomStringConvertible {
        let description: String
    }

    /// The header's bytes.
    static func header(writtenAt: Int64) -> [UInt8] {
        var bytes = magic
        bytes.appendLittleEndian(version)
        bytes.appendLittleEndian(UInt16(0))
        bytes.appendLittleEndian(writtenAt)
        return bytes
    }

    /// Appends one record's bytes to `bytes`.
    static func append(_ record: SnapshotRecord, to bytes: inout [UInt8]) {
        let kind: Kind = switch (record.stored, record.semantic) {
        case (.some, .none): .stored
        case (.some, .some): .storedSemantic
        case (.none, _): .semanticOnly
        }
        bytes.append(kind.rawValue)
        appendString(Array(record.key.utf8), to: &bytes)
        if let stored = record.stored {
            appendString(Array(stored.model.utf8), to: &bytes)
            appendString(stored.value, to: &bytes)
        }
        bytes.appendLittleEndian(record.storedAt)
        bytes.appendLittleEndian(record.expiresAt)
        if let semantic = record.semantic {
            appendString(Array(semantic.group.utf8), to: &bytes)
            bytes.appendLittleEndian(UInt32(semantic.vector.count))
            for component in semantic.vector { bytes.appendLittleEndian(component.bitPattern) }
        }
    }

    /// The trailer's bytes but the CRC (which covers them too).
    static func trailerPrefix(records: UInt64) -> [UInt8] {
        var bytes: [UInt8] = [trailerKind]
        bytes.appendLittleEndian(records)
        return bytes
    }

    /// Checks and reads a whole file.
    /// - Parameter file: Its bytes.
    /// - Returns: When it was written (wall ns) and its records, in file order.
    /// - Throws: ``Corrupt`` naming the first thing wrong.
    static func decode(_ file: [UInt8]) throws(Corrupt) -> (writtenAt: Int64, records: [SnapshotRecord]) {
        guard file.count >= headerSize + trailerSize else { throw Corrupt(description: "\(file.count) bytes is too short") }
        guard Array(file[0..<8]) == magic else { throw Corrupt(description: "not a cached snapshot (bad magic)") }
        let crcOffset = file.count - 4
        let expected = file.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: crcOffset, as: UInt32.self)) }
        var crc = CRC32C()
        file.withUnsafeBytes { crc.update(UnsafeRawBufferPointer(rebasing: $0[0..<crcOffset])) }
        guard crc.value == expected else {
            throw Corrupt(description: "checksum mismatch (torn or corrupted file)")
        }
        var reader = Reader(base: ByteReader(file, from: magic.count, to: crcOffset))
        let version: UInt16 = try reader.integer()
        guard version == Self.version else { throw Corrupt(description: "version \(version), this cached reads \(Self.version)") }
        let _: UInt16 = try reader.integer()
        let writtenAt: Int64 = try reader.integer()
        var records: [SnapshotRecord] = []
        while true {
            let rawKind: UInt8 = try reader.integer()
            if rawKind == trailerKind { break }
            guard let kind = Kind(rawValue: rawKind) else { throw Corrupt(description: "unknown record kind \(rawKind)") }
            let key = try reader.string(maxLength: 1024)
            var stored: SnapshotRecord.Stored?
            if kind != .semanticOnly {
                let model = try reader.string(maxLength: 256)
                stored = .init(model: model, value: Array(try reader.bytes(maxLength: Int(UInt32.max))))
            }
            let storedAt: Int64 = try reader.integer()
            let expiresAt: Int64 = try reader.integer()
            var semantic: SnapshotRecord.Semantic?
            if kind != .stored {
                let group = try reader.string(maxLength: 1024)
                let dimension = Int(try reader.integer() as UInt32)
                guard dimension <= UnitVector.maxDimension else { throw Corrupt(description: "a vector of \(dimension) dimensions") }
                guard let vector = reader.base.floats(dimension) else { throw reader.truncated }
                semantic = .init(group: group, vector: vector)
            }
            records.append(SnapshotRecord(key: key, stored: stored, storedAt: storedAt, expiresAt: expiresAt, semantic: semantic))
        }
        let count: UInt64 = try reader.integer()
        guard count == records.count, reader.base.remaining == 0 else {
            throw Corrupt(description: "the trailer says \(count) records, the file holds \(records.count)")
        }
        return (writtenAt, records)
    }

    /// A ``ByteReader`` whose reads throw ``Corrupt``.
    private struct Reader {
        var base: ByteReader

        var truncated: Corrupt { Corrupt(description: "truncated at byte \(base.offset)") }

        mutating func integer<T: FixedWidthInteger>() throws(Corrupt) -> T {
            guard let value = base.integer(T.self) else { throw truncated }
            return value
        }

        mutating func bytes(maxLength: Int) throws(Corrupt) -> ArraySlice<UInt8> {
            let length = Int(try integer() as UInt32)
            guard length <= maxLength, let bytes = base.take(length) else {
                throw Corrupt(description: "a length of \(length) at byte \(base.offset) runs past the limit or the file")
            }
            return bytes
        }

        mutating func string(maxLength: Int) throws(Corrupt) -> String {
            guard let text = String(validating: try bytes(maxLength: maxLength), as: UTF8.self) else {
                throw Corrupt(description: "a string that is not UTF-8")
            }
            return text
        }
    }

    private static func appendString(_ value: [UInt8], to bytes: inout [UInt8]) {
        bytes.appendLittleEndian(UInt32(value.count))
        bytes.append(contentsOf: value)
    }
}
