/// A JSON value as ``JSONReader`` builds it from a request body: plain Swift values, no Foundation objects.
///
/// `true` and `false` are ``bool(_:)``, never numbers, and a number keeps both readings the request
/// parsers need (``JSONNumberValue``), so the rules of the JSONSerialization days hold: a boolean is not
/// a number, and an integer field takes only a value that is exactly an integer.
enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case number(JSONNumberValue)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)

    /// The string, or nil for any other kind of value.
    var string: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    /// The object, or nil for any other kind of value.
    var object: JSONObject? {
        if case .object(let o) = self { return o }
        return nil
    }

    /// The array, or nil for any other kind of value.
    var array: [JSONValue]? {
        if case .array(let a) = self { return a }
        return nil
    }

    /// The number as an Int when it is exactly an integer (``JSONNumberValue/exactInteger``), else nil (a
    /// boolean, a fraction, any other kind of value).
    var integer: Int? {
        if case .number(let n) = self, let exact = n.exactInteger { return Int(exactly: exact) }
        return nil
    }

    /// Whether the value is JSON's `null`.
    var isNull: Bool {
        if case .null = self { return true }
        return false
    }
}

/// A JSON object's members in the order written (a body has no duplicate keys: ``JSONReader`` refuses them).
///
/// Two keys that differ in bytes but are the same text to Swift (`"\u00e9"` and `"e\u0301"`, canonically
/// equivalent) are both kept, and a lookup finds the last of them, as the dictionary JSONSerialization
/// built did.
struct JSONObject: Sendable, Equatable {
    /// The members, in document order.
    var members: [(key: String, value: JSONValue)]

    init(_ members: [(key: String, value: JSONValue)] = []) {
        self.members = members
    }

    /// The value of `key` (the last member named so), or nil when the object has no such member. A body's
    /// objects hold a handful of members, so a scan beats hashing every key.
    subscript(key: String) -> JSONValue? {
        var found: JSONValue?
        for member in members where member.key == key { found = member.value }
        return found
    }

    /// `key`'s value unless it is absent or `null`.
    func present(_ key: String) -> JSONValue? {
        guard let value = self[key], !value.isNull else { return nil }
        return value
    }

    var isEmpty: Bool { members.isEmpty }

    /// `self` with `other`'s members replacing or joining its own (a batch's `params` under an item's).
    func merging(_ other: JSONObject) -> JSONObject {
        var merged = self
        for member in other.members { merged.set(member.key, member.value) }
        return merged
    }

    static func == (a: JSONObject, b: JSONObject) -> Bool {
        a.members.count == b.members.count && zip(a.members, b.members).allSatisfy { $0.key == $1.key && $0.value == $1.value }
    }
}

/// A JSON number read the way JSONSerialization read it (see ``JSONReader``): as a double, and as an
/// exact integer when it is one.
struct JSONNumberValue: Sendable, Equatable {
    /// The number as a double (finite: ``JSONReader`` refuses numbers beyond a Double's range).
    let double: Double
    /// The integer the number is exactly, or nil when it is not an integer or not one that fits in Int64.
    /// A literal with a fraction or an exponent counts when it is integral and within ±2^53 (`1.0`,
    /// `1e3`), since JSON does not tell them apart (``JSONNumber/exactInteger(_:)``).
    let exactInteger: Int64?
}
