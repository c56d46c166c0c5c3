/// What one HTTP exchange reports, in order: the response head, body pieces, then the end.
enum TransferEvent: Sendable {
    /// The status line and headers arrived (header names lower-cased).
    case head(status: Int, headers: [String: String])
    /// Body bytes, decompressed, in order.
    case body([UInt8])
    /// The exchange ended: nil when the whole body arrived, else why not (already classified).
    case end(UpstreamError?)
}
