import Wire

/// The W3C `traceparent` header: `version-traceid-parentid-flags`, e.g.
/// `00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01`.
public enum TraceParent {
    /// Length of a version 00 value.
    static let length = 55

    /// Parses a `traceparent` value as W3C Trace Context (level 1) says a receiver must: lower-case hex
    /// fields of the right lengths, version `ff` refused, a version 00 value of exactly 55 characters (a
    /// later version may append fields after a `-`), and neither id all zeros.
    /// - Parameters:
    ///   - value: The header's value (surrounding spaces and tabs are ignored).
    ///   - state: The `tracestate` header's value, kept when valid (see ``TraceState/validated(_:)``).
    /// - Returns: The context, or nil when the value is malformed (the caller then starts a new trace).
    public static func parse(_ value: String, state: String? = nil) -> TraceContext? {
        let text = Array(value.utf8.drop { $0 == 0x20 || $0 == 0x09 }.reversed().drop { $0 == 0x20 || $0 == 0x09 }.reversed())
        guard text.count >= length else { return nil }
        guard let version = hex(text[0..<2]), version != 0xFF else { return nil }
        guard text[2] == dash, text[35] == dash, text[52] == dash else { return nil }
        if version == 0 {
            guard text.count == length else { return nil }
        } else if text.count > length {
            guard text[length] == dash else { return nil }
        }
        guard let high = hex(text[3..<19]), let low = hex(text[19..<35]), let parent = hex(text[36..<52]),
              let flags = hex(text[53..<55]),
              let traceID = TraceID(high: high, low: low), let spanID = SpanID(parent) else { return nil }
        return TraceContext(traceID: traceID, spanID: spanID, flags: UInt8(flags), state: state.flatMap(TraceState.validated) ?? "")
    }

    /// The `traceparent` value of a context (version 00; only the sampled bit of the flags is sent).
    public static func format(_ context: TraceContext) -> String {
        let flags = context.flags & TraceContext.sampledFlag
        return "00-\(context.traceID.hex)-\(context.spanID.hex)-0\(flags)"
    }

    private static let dash = UInt8(ascii: "-")

    /// Lower-case hex digits (at most 16) as a number; nil on any other character.
    private static func hex(_ digits: ArraySlice<UInt8>) -> UInt64? {
        var value: UInt64 = 0
        for digit in digits {
            let nibble: UInt8
            switch digit {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): nibble = digit - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): nibble = digit - UInt8(ascii: "a") + 10
            default: return nil
            }
            value = value << 4 | UInt64(nibble)
        }
        return value
    }
}

/// The W3C `tracestate` header: vendors' `key=value` members, comma-separated.
public enum TraceState {
    /// Most members a valid value has.
    static let maxMembers = 32

    /// The value when it is valid, else nil (W3C: a receiver discards a tracestate it cannot parse).
    /// Valid: at most 512 bytes and 32 members, each `key=value` with a key of lower-case letters,
    /// digits and `_-*/` (optionally `tenant@system`) and a value of printable ASCII without `,` and
    /// `=`, at most 256 characters, not ending in a space; empty members (from `,,`) are allowed and
    /// dropped; a key appears once.
    public static func validated(_ value: String) -> String? {
        guard value.utf8.count <= TraceContext.maxStateLength else { return nil }
        var members: [Substring] = []
        var keys = Set<Substring>()
        for raw in value.split(separator: ",", omittingEmptySubsequences: false) {
            let member = raw.drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed()
            guard !member.isEmpty else { continue }
            let text = Substring(String(member))
            guard let equals = text.firstIndex(of: "="), isKey(text[..<equals]),
                  isValue(text[text.index(after: equals)...]), keys.insert(text[..<equals]).inserted else { return nil }
            members.append(text)
        }
        guard !members.isEmpty, members.count <= maxMembers else { return members.isEmpty ? "" : nil }
        return members.joined(separator: ",")
    }

    private static func isKey(_ key: Substring) -> Bool {
        let parts = key.split(separator: "@", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), key.utf8.count <= 256 else { return false }
        for (index, part) in parts.enumerated() {
            guard let first = part.utf8.first else { return false }
            // A simple key or a tenant id may start with a digit only in a multi-tenant key's tenant part.
            let firstOK = isLower(first) || (parts.count == 2 && index == 0 && isDigit(first))
            guard firstOK, part.utf8.allSatisfy({ isLower($0) || isDigit($0) || "_-*/".utf8.contains($0) }) else { return false }
            if parts.count == 2 && index == 1 && part.utf8.count > 14 { return false }
        }
        return true
    }

    private static func isValue(_ value: Substring) -> Bool {
        guard !value.isEmpty, value.utf8.count <= 256, value.utf8.last != 0x20 else { return false }
        return value.utf8.allSatisfy { $0 >= 0x20 && $0 <= 0x7E && $0 != UInt8(ascii: ",") && $0 != UInt8(ascii: "=") }
    }

    private static func isLower(_ c: UInt8) -> Bool { c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z") }
    private static func isDigit(_ c: UInt8) -> Bool { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }
}
