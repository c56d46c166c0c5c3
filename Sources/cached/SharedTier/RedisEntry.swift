/// An entry as cached keeps it in Redis: one binary string holding its times (wall-clock milliseconds, so
/// every host reads the same age), its model, its semantic key and its value.
///
/// ```
/// version u8 (1) | stored at ms i64 | expires at ms i64 | model (u16 length, UTF-8)
/// | semantic u8 (0 or 1) | [group (u16 length) | dimension u16 | dimension × f32] | value (the rest)
/// ```
/// Little-endian. The same layout, with an empty value, is what a semantic group's hash holds per entry.
struct RedisEntry: Equatable, Sendable {
    static let version: UInt8 = 1

    var storedAtMs: Int64
    var expiresAtMs: Int64
    var model: String
    var semantic: SnapshotRecord.Semantic?
    var value: [UInt8]

    /// The entry's bytes.
    var encoded: [UInt8] {
        var bytes: [UInt8] = [Self.version]
        bytes.reserveCapacity(32 + model.utf8.count + value.count + (semantic.map { $0.group.utf8.count + 4 * $0.vector.count } ?? 0))
        bytes.appendLittleEndian(UInt64(bitPattern: storedAtMs))
        bytes.appendLittleEndian(UInt64(bitPattern: expiresAtMs))
        Self.appendShortString(model, to: &bytes)
        if let semantic {
            bytes.append(1)
            Self.appendShortString(semantic.group, to: &bytes)
            bytes.appendLittleEndian(UInt16(semantic.vector.count))
            for component in semantic.vector { bytes.appendLittleEndian(component.bitPattern) }
        } else {
            bytes.append(0)
        }
        bytes.append(contentsOf: value)
        return bytes
    }

    /// Reads an entry; nil for bytes this cached did not write (another version, truncated), which the
    /// caller treats as a miss.
    init?(decoding bytes: [UInt8]) {
        var reader = ByteReader(bytes)
        func shortString() -> String? {
            guard let length = reader.integer(UInt16.self), let raw = reader.take(Int(length)) else { return nil }
            return String(validating: raw, as: UTF8.self)
        }
        guard reader.integer(UInt8.self) == Self.version, let stored = reader.integer(Int64.self),
              let expires = reader.integer(Int64.self), let model = shortString(), let flag = reader.integer(UInt8.self),
              flag <= 1 else { return nil }
        var semantic: SnapshotRecord.Semantic?
        if flag == 1 {
            guard let group = shortString(), let dimension = reader.integer(UInt16.self),
                  Int(dimension) <= UnitVector.maxDimension, let vector = reader.floats(Int(dimension)) else { return nil }
            semantic = .init(group: group, vector: vector)
        }
        storedAtMs = stored
        expiresAtMs = expires
        self.model = model
        self.semantic = semantic
        value = Array(reader.take(reader.remaining) ?? [])
    }

    init(storedAtMs: Int64, expiresAtMs: Int64, model: String, semantic: SnapshotRecord.Semantic?, value: [UInt8]) {
        self.storedAtMs = storedAtMs
        self.expiresAtMs = expiresAtMs
        self.model = model
        self.semantic = semantic
        self.value = value
    }

    private static func appendShortString(_ text: String, to bytes: inout [UInt8]) {
        let utf8 = Array(text.utf8.prefix(Int(UInt16.max)))
        bytes.appendLittleEndian(UInt16(utf8.count))
        bytes.append(contentsOf: utf8)
    }
}
