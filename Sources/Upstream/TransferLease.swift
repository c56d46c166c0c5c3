/// Keeps a streaming ``Transfer`` open while its consumer holds the stream; when the last copy of the
/// stream and its iterator is gone, the transfer is abandoned (its connection closed unless the stream
/// had reached `[DONE]`).
final class TransferLease: Sendable {
    let transfer: Transfer

    init(_ transfer: Transfer) {
        self.transfer = transfer
    }

    deinit {
        transfer.abandon()
    }
}
