import FoundationEssentials
import IPC
import Registry

/// A validated `POST /v1/embeddings` body: `{"model"?, "input": str | [str] (1...2048), "encoding_format"?}`.
/// Unknown fields (OpenAI's `user`, `dimensions`) are ignored.
struct EmbeddingRequest {
    /// How the vectors are written in the reply.
    enum Encoding: String {
        /// JSON numbers.
        case float
        /// The base64 of the little-endian float32 values: what the official `openai` Python client
        /// asks for when the caller names no format (it decodes them itself).
        case base64
    }

    /// Most inputs in one request, as OpenAI allows.
    static let maxInputs = 2048
    /// The model when the body names none.
    static let defaultModel = "minilm"

    var model: String
    var inputs: [String]
    var encoding: Encoding

    /// Parses and validates the body; every problem is a 422 naming the field.
    init(body o: JSONObject) throws(APIError) {
        switch o["model"] {
        case nil, .null?: model = Self.defaultModel
        case .string(let s)? where ModelRegistry.isValidModelName(s): model = s
        default: throw .unprocessable("model must be a model name", param: "model")
        }
        switch o["input"] {
        case .string(let s)?: inputs = [s]
        case .array(let a)? where (1...Self.maxInputs).contains(a.count) && a.allSatisfy({ $0.string != nil }):
            inputs = a.compactMap(\.string)
        default:
            throw .unprocessable("input must be a string or a non-empty array of up to \(Self.maxInputs) strings", param: "input")
        }
        switch o["encoding_format"] {
        case nil, .null?: encoding = .float
        case .string(let s)?:
            guard let e = Encoding(rawValue: s) else {
                throw .unprocessable("encoding_format must be float or base64", param: "encoding_format")
            }
            encoding = e
        default: throw .unprocessable("encoding_format must be float or base64", param: "encoding_format")
        }
    }

    /// One vector as the reply writes it.
    func encode(_ vector: [Float]) -> JSONValue {
        switch encoding {
        case .float: return .array(vector.map { .double(Double($0)) })
        case .base64:
            var bytes: [UInt8] = []
            bytes.reserveCapacity(vector.count * 4)
            for v in vector { withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes.append(contentsOf: $0) } }
            return .string(Data(bytes).base64EncodedString())
        }
    }
}
