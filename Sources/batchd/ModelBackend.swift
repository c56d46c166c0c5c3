import IPC
import Services

/// Where batchd sends a model's requests: the modeld instance serving it, or a stand-in in tests.
///
/// Payloads pass through as bytes: batchd forwards the caller's Generate/Embed payload unchanged and
/// relays modeld's CHUNK and END payloads unchanged (a leading ``GenerationFrameTag`` tells them apart).
protocol ModelBackend: Sendable {
    /// Starts a generation.
    /// - Parameters:
    ///   - payload: An encoded `GenerationProtocol.Generate`.
    ///   - timeout: How long the whole stream may take.
    /// - Returns: The CHUNK payloads, then the END payload (tagged ``GenerationFrameTag/done``); it throws
    ///   ``IPCError`` on failure. Dropping it, or cancelling the consuming task, cancels the generation.
    func generate(_ payload: [UInt8], timeout: Duration) -> AsyncThrowingStream<[UInt8], any Error>

    /// Embeds texts.
    /// - Parameters:
    ///   - payload: An encoded `GenerationProtocol.Embed`.
    ///   - timeout: How long to wait.
    /// - Returns: The encoded `GenerationProtocol.EmbedReply`.
    /// - Throws: ``IPCError``, or `CancellationError`.
    func embed(_ payload: [UInt8], timeout: Duration) async throws -> [UInt8]

    /// Asks whether the instance can serve now, at no token cost (batchd's health probe).
    /// - Parameter timeout: How long to wait.
    /// - Returns: modeld's answer.
    /// - Throws: ``IPCError``: `remote(code: IPCErrorCode.unknownType, …)` from a modeld older than the
    ///   probe; or `CancellationError`.
    func health(timeout: Duration) async throws -> GenerationProtocol.HealthReply

    /// Releases connections (when batchd stops).
    func close()
}

/// A modeld instance over its Unix socket (`modeld-NAME.sock`), through one multiplexed ``IPCClient``
/// that reconnects with backoff while modeld restarts.
struct ModeldBackend: ModelBackend {
    let client: IPCClient

    /// - Parameter path: The instance's socket.
    init(path: String) {
        client = IPCClient(path: path, protocolName: ServiceName.modeld, version: ServiceName.version)
    }

    func generate(_ payload: [UInt8], timeout: Duration) -> AsyncThrowingStream<[UInt8], any Error> {
        client.stream(type: GenerationProtocol.Generate.type, payload: payload, timeout: timeout)
    }

    func embed(_ payload: [UInt8], timeout: Duration) async throws -> [UInt8] {
        try await client.call(type: GenerationProtocol.Embed.type, payload: payload, timeout: timeout)
    }

    func health(timeout: Duration) async throws -> GenerationProtocol.HealthReply {
        try await client.call(GenerationProtocol.Health(), returning: GenerationProtocol.HealthReply.self, timeout: timeout)
    }

    func close() { client.close() }
}
