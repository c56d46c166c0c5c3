import Basics

/// A JSON value a caller builds a request body from (``UpstreamRequestBody/init(members:)``), written
/// straight to bytes when the request is sent: no `[String: Any]`, no JSONSerialization on the way.
public indirect enum UpstreamJSONValue: Sendable {
    case string(String)
    case integer(Int64)
    /// A finite number (the body refuses NaN and the infinities).
    case number(Double)
    case bool(Bool)
    case null
    case array([UpstreamJSONValue])
    /// Members in the order given (names should be unique).
    case object([(String, UpstreamJSONValue)])

    /// Whether every number in it is finite (what JSON can say).
    var isRepresentable: Bool {
        switch self {
        case .number(let value): value.isFinite
        case .array(let values): values.allSatisfy(\.isRepresentable)
        case .object(let members): members.allSatisfy { $0.1.isRepresentable }
        default: true
        }
    }

    /// Appends the value as JSON text.
    func write(to out: inout [UInt8]) {
        switch self {
        case .string(let text): JSONString.append(text, to: &out)
        case .integer(let value): out.append(contentsOf: String(value).utf8)
        case .number(let value):
            // Swift's shortest round-trip form ("0.7", "1e-05") is valid JSON for a finite number.
            out.append(contentsOf: (value.isFinite ? value.description : "null").utf8)
        case .bool(let value): out.append(contentsOf: (value ? "true" : "false").utf8)
        case .null: out.append(contentsOf: "null".utf8)
        case .array(let values):
            out.append(UInt8(ascii: "["))
            for (index, value) in values.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                value.write(to: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            Self.writeObject(members, to: &out)
        }
    }

    /// Appends `{"name":value,...}`.
    static func writeObject(_ members: [(String, UpstreamJSONValue)], to out: inout [UInt8]) {
        out.append(UInt8(ascii: "{"))
        for (index, (name, value)) in members.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            JSONString.append(name, to: &out)
            out.append(UInt8(ascii: ":"))
            value.write(to: &out)
        }
        out.append(UInt8(ascii: "}"))
    }
}
