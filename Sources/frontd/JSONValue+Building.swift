/// Building reply values for ``JSONWriter``: literals (`["object": "list", "data": items]`) and the
/// number constructors, so a route writes its reply as plain Swift values.
extension JSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral {
    init(stringLiteral value: String) { self = .string(value) }
    init(integerLiteral value: Int) { self = .int(value) }
    init(floatLiteral value: Double) { self = .double(value) }
    init(booleanLiteral value: Bool) { self = .bool(value) }
    init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    init(dictionaryLiteral elements: (String, JSONValue)...) { self = .object(JSONObject(elements.map { (key: $0.0, value: $0.1) })) }
    init(nilLiteral: ()) { self = .null }

    /// An integer, written as its digits.
    static func int(_ value: some BinaryInteger) -> JSONValue {
        guard let exact = Int64(exactly: value) else { return .double(Double(value)) }
        return .number(JSONNumberValue(double: Double(exact), exactInteger: exact))
    }

    /// A double, written as JSONSerialization wrote it (``JSONWriter``; a non-finite one as `null`).
    static func double(_ value: Double) -> JSONValue {
        .number(JSONNumberValue(double: value, exactInteger: JSONNumber.exactInteger(value)))
    }

    /// An object of strings (its members are written in ``JSONKeyOrder``, whatever the dictionary's order).
    static func strings(_ members: [String: String]) -> JSONValue {
        .object(JSONObject(members.map { (key: $0.key, value: .string($0.value)) }))
    }

    /// A string, or `null`.
    static func optional(_ value: String?) -> JSONValue {
        value.map { .string($0) } ?? .null
    }
}

extension JSONObject: ExpressibleByDictionaryLiteral {
    init(dictionaryLiteral elements: (String, JSONValue)...) { self.init(elements.map { (key: $0.0, value: $0.1) }) }

    /// Sets `key` to `value`: the member of that name replaced in place, or added at the end.
    mutating func set(_ key: String, _ value: JSONValue) {
        if let index = members.firstIndex(where: { $0.key == key }) {
            members[index].value = value
        } else {
            members.append((key, value))
        }
    }
}
