import FoundationEssentials

/// A JSON document as a tree, for checking a registry field by field: `JSONDecoder` keeps booleans and
/// numbers apart (a price of `true` is an error, not 1), and the registry's checks then name the entry
/// and the field that is wrong instead of a Codable coding path.
package enum JSONTree: Decodable, Equatable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONTree])
    case object([String: JSONTree])

    package init(from decoder: any Decoder) throws {
        if var list = try? decoder.unkeyedContainer() {
            var items: [JSONTree] = []
            while !list.isAtEnd { items.append(try list.decode(JSONTree.self)) }
            self = .array(items)
            return
        }
        if let keyed = try? decoder.container(keyedBy: AnyKey.self) {
            var members: [String: JSONTree] = [:]
            for key in keyed.allKeys { members[key.stringValue] = try keyed.decode(JSONTree.self, forKey: key) }
            self = .object(members)
            return
        }
        let single = try decoder.singleValueContainer()
        if single.decodeNil() {
            self = .null
        } else if let value = try? single.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? single.decode(Double.self) {
            self = .number(value)
        } else {
            self = .string(try single.decode(String.self))
        }
    }

    /// Text that is not JSON: the decoder's complaint as one line, with the line and column when it
    /// gives them.
    package struct SyntaxError: Error {
        package let reason: String
    }

    /// The document in `data` (a registry or keys file's bytes).
    /// - Throws: ``SyntaxError`` when `data` is not JSON.
    package static func parse(_ data: Data) throws(SyntaxError) -> JSONTree {
        do {
            return try JSONDecoder().decode(JSONTree.self, from: data)
        } catch DecodingError.dataCorrupted(let context) {
            // The decoder's own error says where ("around line 3, column 5"); the context only that it failed.
            let underlying = (context.underlyingError as? any CustomDebugStringConvertible)?.debugDescription
            throw SyntaxError(reason: underlying ?? context.debugDescription)
        } catch {
            throw SyntaxError(reason: "\(error)")
        }
    }

    /// What the value is, for error messages: `a string ("text")`, `a number (3)`, `an array`.
    package var kindDescription: String {
        switch self {
        case .null: "null"
        case .bool(let value): "a boolean (\(value))"
        case .number(let value): "a number (\(Self.format(value)))"
        case .string(let value): "a string (\"\(value)\")"
        case .array: "an array"
        case .object: "an object"
        }
    }

    /// A number without a trailing ".0" when it is whole.
    package static func format(_ value: Double) -> String {
        if value.isFinite, value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
    }

    /// Any key of a JSON object.
    private struct AnyKey: CodingKey {
        let stringValue: String
        let intValue: Int? = nil

        init(stringValue: String) {
            self.stringValue = stringValue
        }

        init?(intValue: Int) {
            return nil
        }
    }
}
