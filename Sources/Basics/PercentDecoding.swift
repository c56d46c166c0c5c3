/// `%XX` escapes (RFC 3986) back to bytes, for values read from URLs and from variables written like them
/// (`REDIS_URL`'s user info, `OTEL_EXPORTER_OTLP_HEADERS`). Foundation's `removingPercentEncoding` is not
/// in FoundationEssentials, which the daemons import.
public enum PercentDecoding {
    /// Why a text could not be decoded.
    public enum Failure: Error, Equatable {
        /// A `%` not followed by two hex digits.
        case badEscape
        /// The decoded bytes are not UTF-8.
        case notUTF8
    }

    /// The bytes `text` spells, every `%XX` replaced by its byte.
    /// - Returns: nil when a `%` is not followed by two hex digits.
    public static func bytes(_ text: some StringProtocol) -> [UInt8]? {
        var bytes: [UInt8] = []
        var utf8 = text.utf8[...]
        while let byte = utf8.popFirst() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard let high = utf8.popFirst().flatMap(hexDigitValue), let low = utf8.popFirst().flatMap(hexDigitValue) else { return nil }
            bytes.append(high << 4 | low)
        }
        return bytes
    }

    /// `text` with every `%XX` decoded, as UTF-8 text.
    public static func string(_ text: some StringProtocol) -> Result<String, Failure> {
        guard let bytes = bytes(text) else { return .failure(.badEscape) }
        guard let decoded = String(validating: bytes, as: UTF8.self) else { return .failure(.notUTF8) }
        return .success(decoded)
    }
}
