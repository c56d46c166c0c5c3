#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Foundation
import Reactor

/// The HTTP client for one OpenAI-compatible upstream (vLLM, TGI, llama.cpp's server, Ollama, OpenAI).
///
/// One client per endpoint, shared by every request of a modeld instance. It keeps connections alive
/// and reuses them (its own HTTP/1.1 connections on the process's event loop for `http://`, URLSession,
/// i.e. libcurl, for `https://`: see ``UpstreamTransport``), lets at most
/// ``UpstreamEndpoint/maxConcurrentRequests`` requests run at once (the rest wait in FIFO order, within
/// their total timeout and while their task is not cancelled), enforces the connect, first-byte and
/// total timeouts, and classifies every failure as an ``UpstreamError``.
///
/// Cancelling the task of a call (or dropping a stream) cancels its HTTP request and closes its
/// connection, so the upstream stops generating for a client that left.
public final class UpstreamClient: Sendable {
    /// The endpoint this client talks to.
    public let endpoint: UpstreamEndpoint
    private let session: URLSession
    private let delegate: SessionDelegate
    /// The event loop's connections, for a plain-`http://` upstream; nil when URLSession carries all.
    private let connections: HTTP1ConnectionPool?
    /// What a request's `Host` header says.
    private let hostHeader: String
    private let limiter: ConcurrencyLimiter
    private let redactor: Redactor

    /// Creates a client; no connection is made until the first request.
    /// - Parameters:
    ///   - endpoint: the upstream and its limits.
    ///   - trustStore: where a configured ``UpstreamEndpoint/caFile`` must be found (the system's).
    ///   - transport: what carries `http://` exchanges; by default what ``UpstreamTransport/environmentVariable``
    ///     says (the event loop unless it says `urlsession`).
    /// - Throws: ``UpstreamConfigurationError`` when the endpoint names a CA file that cannot be read or
    ///   is not in the trust store TLS verification uses (see ``UpstreamTrustStore``), or the transport
    ///   variable has a value it does not know.
    public init(endpoint: UpstreamEndpoint, trustStore: UpstreamTrustStore = .system, transport: UpstreamTransport? = nil)
        throws(UpstreamConfigurationError)
    {
        if let caFile = endpoint.caFile { try trustStore.check(caFile: caFile) }
        let choice: UpstreamTransport
        if let transport { choice = transport } else { choice = try UpstreamTransport.fromEnvironment() }
        var host = endpoint.baseURL.host ?? ""
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        let port = endpoint.baseURL.port ?? (endpoint.baseURL.scheme == "https" ? 443 : 80)
        hostHeader = (host.contains(":") ? "[\(host)]" : host) + (endpoint.baseURL.port.map { ":\($0)" } ?? "")
        if UpstreamTransport.usesEventLoop(endpoint, choice: choice), case .success(let loop) = EventLoop.shared {
            // As many idle as may run at once, and the health probe's.
            connections = HTTP1ConnectionPool(loop: loop, host: host, port: UInt16(clamping: port),
                                              maxIdle: endpoint.maxConcurrentRequests + 1)
        } else {
            connections = nil
        }
        self.endpoint = endpoint
        self.redactor = Redactor(endpoint: endpoint)
        self.limiter = ConcurrencyLimiter(limit: endpoint.maxConcurrentRequests)
        self.delegate = SessionDelegate()

        let configuration = URLSessionConfiguration.ephemeral
        // One connection more than the limit, so the health probe (which takes no slot) is not queued
        // behind long generations inside libcurl either.
        configuration.httpMaximumConnectionsPerHost = endpoint.maxConcurrentRequests + 1
        // URLSession's own timers count whole seconds of inactivity; the client's watchdog enforces the
        // real timeouts, so these only back it up.
        let backstop = (endpoint.timeouts.total.upstreamSeconds + 5).rounded(.up)
        configuration.timeoutIntervalForRequest = backstop
        configuration.timeoutIntervalForResource = backstop
        configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
        configuration.urlCache = nil
        configuration.httpCookieStorage = nil
        configuration.httpShouldSetCookies = false
        let queue = OperationQueue()
        queue.name = "upstream-session"
        queue.maxConcurrentOperationCount = 1  // callbacks in order: body pieces must not overtake each other
        self.session = URLSession(configuration: configuration, delegate: delegate, delegateQueue: queue)
    }

    deinit {
        session.invalidateAndCancel()
    }

    /// The executor whose thread reads this client's answers (the process's event loop), for `http://`
    /// upstreams; nil for URLSession's. A task that prefers it hears each piece of an answer on the
    /// thread that read it, with no wake-up of another thread.
    public var preferredExecutor: (any TaskExecutor)? { connections?.loop.executor }

    /// What carries the exchanges: `event loop` or `URLSession` (for tests and logs).
    var transportName: String { connections == nil ? "URLSession" : "event loop" }

    /// Requests in flight and waiting, and the limit.
    public var load: UpstreamLoad {
        let (inFlight, waiting) = limiter.load
        return UpstreamLoad(inFlight: inFlight, waiting: waiting, limit: limiter.limit)
    }

    // MARK: Non-streaming calls

    /// `POST {base}/chat/completions` without streaming.
    /// - Parameters:
    ///   - body: the request; its `model` is replaced by the endpoint's, `stream` fields removed.
    ///   - options: the caller's deadline, and the request id and trace context to forward.
    /// - Returns: the 2xx answer, with its `usage` when it has one.
    /// - Throws: ``UpstreamError`` for any failure, a non-2xx status included.
    public func chatCompletion(_ body: UpstreamRequestBody, options: UpstreamRequestOptions = UpstreamRequestOptions())
        async throws(UpstreamError) -> UpstreamResponse
    {
        let json = try body.prepared(model: endpoint.model, streaming: false, includeUsage: false)
        return try await exchange(.chatCompletions, body: json, options: options)
    }

    /// `POST {base}/completions` without streaming.
    /// - Parameters:
    ///   - body: the request; its `model` is replaced by the endpoint's, `stream` fields removed.
    ///   - options: the caller's deadline, and the request id and trace context to forward.
    /// - Returns: the 2xx answer, with its `usage` when it has one.
    /// - Throws: ``UpstreamError`` for any failure, a non-2xx status included.
    public func completion(_ body: UpstreamRequestBody, options: UpstreamRequestOptions = UpstreamRequestOptions())
        async throws(UpstreamError) -> UpstreamResponse
    {
        let json = try body.prepared(model: endpoint.model, streaming: false, includeUsage: false)
        return try await exchange(.completions, body: json, options: options)
    }

    /// `POST {base}/embeddings`.
    /// - Parameters:
    ///   - body: the request; its `model` is replaced by the endpoint's.
    ///   - options: the caller's deadline, and the request id and trace context to forward.
    /// - Returns: the 2xx answer, with its `usage` when it has one.
    /// - Throws: ``UpstreamError`` for any failure, a non-2xx status included.
    public func embeddings(_ body: UpstreamRequestBody, options: UpstreamRequestOptions = UpstreamRequestOptions())
        async throws(UpstreamError) -> UpstreamResponse
    {
        let json = try body.prepared(model: endpoint.model, streaming: nil, includeUsage: false)
        return try await exchange(.embeddings, body: json, options: options)
    }

    /// `GET {base}/models`: a cheap health probe that sends no tokens. It takes no concurrency slot,
    /// so it answers even while every slot is busy with long generations. Bounded by the connect and
    /// first-byte timeouts (added up: a request without a body gives no signal when it is written),
    /// the total timeout, and the caller's deadline.
    /// - Parameter options: the caller's deadline (a probe's own), request id and trace context.
    /// - Returns: the 2xx answer (an OpenAI model list).
    /// - Throws: ``UpstreamError`` for any failure, a non-2xx status included.
    public func models(options: UpstreamRequestOptions = UpstreamRequestOptions()) async throws(UpstreamError) -> UpstreamResponse {
        try await exchange(.models, body: nil, options: options)
    }

    // MARK: Streaming calls

    /// `POST {base}/chat/completions` with `"stream": true`; returns once the response head is in.
    ///
    /// Asks for a final usage chunk when the endpoint says so (``UpstreamEndpoint/requestsStreamUsage``);
    /// that chunk's ``ServerSentEvent/usage`` carries the counts.
    /// - Parameters:
    ///   - body: the request; `model`, `stream` and `stream_options.include_usage` are set for it.
    ///   - options: the caller's deadline, and the request id and trace context to forward.
    /// - Returns: the events, to iterate as they arrive.
    /// - Throws: ``UpstreamError`` when the stream cannot begin (connection, timeout, non-2xx status,
    ///   or an answer that is not `text/event-stream`); nothing has reached the caller then.
    public func streamChatCompletion(_ body: UpstreamRequestBody, options: UpstreamRequestOptions = UpstreamRequestOptions())
        async throws(UpstreamError) -> UpstreamEventStream
    {
        let json = try body.prepared(model: endpoint.model, streaming: true, includeUsage: endpoint.requestsStreamUsage)
        return try await openStream(.chatCompletions, body: json, options: options)
    }

    /// `POST {base}/completions` with `"stream": true`; see ``streamChatCompletion(_:options:)``.
    /// - Parameters:
    ///   - body: the request; `model`, `stream` and `stream_options.include_usage` are set for it.
    ///   - options: the caller's deadline, and the request id and trace context to forward.
    /// - Returns: the events, to iterate as they arrive.
    /// - Throws: ``UpstreamError`` when the stream cannot begin.
    public func streamCompletion(_ body: UpstreamRequestBody, options: UpstreamRequestOptions = UpstreamRequestOptions())
        async throws(UpstreamError) -> UpstreamEventStream
    {
        let json = try body.prepared(model: endpoint.model, streaming: true, includeUsage: endpoint.requestsStreamUsage)
        return try await openStream(.completions, body: json, options: options)
    }

    // MARK: Any route of the server

    /// A request to any route of the server the base URL belongs to (`/health`, `/metrics`, a gateway's
    /// own routes, or an OpenAI route with a body the caller wrote), with the body sent exactly as given:
    /// no `model` or `stream` field is rewritten. It takes a concurrency slot and keeps the timeouts like
    /// the OpenAI calls.
    /// - Parameters:
    ///   - method: `GET`, `POST`, `DELETE`, ...
    ///   - path: the absolute path on the server, with a query if any (`/health`, `/v1/infer`); the base
    ///     URL's `/v1` is replaced, not prefixed.
    ///   - body: sent as `application/json` when given (whether or not it is valid JSON).
    ///   - accept: the `Accept` header.
    ///   - options: the caller's deadline, request id, trace context and further headers.
    /// - Returns: the 2xx answer, whatever its content type.
    /// - Throws: ``UpstreamError`` for any failure, a non-2xx status included (its status, code and
    ///   message are in the error); ``UpstreamError/Kind/invalidRequest`` for a path that is not absolute.
    public func call(_ method: String, path: String, body: Data? = nil, accept: String = "application/json",
                     options: UpstreamRequestOptions = UpstreamRequestOptions()) async throws(UpstreamError) -> UpstreamResponse
    {
        try await exchange(try route(method, path), body: body, accept: accept, options: options)
    }

    /// A streaming request (`text/event-stream`) to any route of the server, with the body sent exactly
    /// as given (so it must ask for a stream itself: `"stream": true`); returns once the response head is
    /// in, like ``streamChatCompletion(_:options:)``.
    /// - Parameters:
    ///   - path: the absolute path (`/v1/infer/stream`, `/v1/chat/completions`).
    ///   - body: the JSON body, as given.
    ///   - options: the caller's deadline, request id, trace context and further headers.
    /// - Returns: the events, to iterate as they arrive.
    /// - Throws: ``UpstreamError`` when the stream cannot begin.
    public func stream(path: String, body: Data, options: UpstreamRequestOptions = UpstreamRequestOptions())
        async throws(UpstreamError) -> UpstreamEventStream
    {
        try await openStream(try route("POST", path), body: body, options: options)
    }

    private func route(_ method: String, _ path: String) throws(UpstreamError) -> UpstreamRoute {
        guard !method.isEmpty, method.utf8.allSatisfy({ (0x41...0x5A).contains($0) }) else {
            throw UpstreamError(.invalidRequest, route: "request", detail: "method \"\(method)\" is not an HTTP method")
        }
        guard let url = endpoint.url(ofAbsolutePath: path) else {
            throw UpstreamError(.invalidRequest, route: "\(method) \(path)", detail: "the path must be absolute, like /health")
        }
        return .other(method: method, path: path, url: url)
    }

    // MARK: The exchange

    /// Takes a slot (except for the probe) and starts the request.
    private func begin(_ route: UpstreamRoute, body: Data?, accept: String, options: UpstreamRequestOptions)
        async throws(UpstreamError) -> Transfer
    {
        let endpointDeadline = ContinuousClock.now + endpoint.timeouts.total
        let deadline = options.deadline.map { min($0, endpointDeadline) } ?? endpointDeadline
        let usesSlot = route != .models
        if usesSlot {
            do {
                try await limiter.acquire(deadline: deadline)
            } catch .cancelled {
                throw UpstreamError(.cancelled, route: route.display, detail: "cancelled while waiting for a concurrency slot")
            } catch {
                throw UpstreamError(.timeout, route: route.display,
                                    detail: "the deadline passed while waiting for one of \(limiter.limit) concurrency slots",
                                    timeoutPhase: .total)
            }
        }
        let onEnd = usesSlot ? Self.releasing(limiter) : Self.nothing
        let transfer = Transfer(
            route: route, hasBody: body != nil, deadline: deadline, timeouts: endpoint.timeouts, redactor: redactor,
            onEnd: onEnd)
        let headers = headers(body: body, accept: accept, options: options)
        let url = endpoint.url(of: route)
        if let connections {
            connections.send(HTTP1Request.bytes(method: route.method, url: url, host: hostHeader, headers: headers, body: body),
                             on: transfer)
        } else {
            transfer.start(request: request(route, url: url, headers: headers, body: body), session: session, delegate: delegate)
        }
        return transfer
    }

    private static func releasing(_ limiter: ConcurrencyLimiter) -> @Sendable () -> Void {
        { limiter.release() }
    }

    private static let nothing: @Sendable () -> Void = {}

    /// The request's headers, whatever carries it (`Host` and `Content-Length` are the transport's).
    private func headers(body: Data?, accept: String, options: UpstreamRequestOptions) -> [(name: String, value: String)] {
        var headers: [(name: String, value: String)] = [("Accept", accept), ("User-Agent", "infer-upstream/1")]
        if body != nil { headers.append(("Content-Type", "application/json")) }
        if let key = endpoint.apiKey { headers.append(("Authorization", "Bearer \(key.secret)")) }
        headers.append(contentsOf: options.headers)
        return headers
    }

    private func request(_ route: UpstreamRoute, url: URL, headers: [(name: String, value: String)], body: Data?) -> URLRequest {
        var request = URLRequest(url: url)
        request.httpMethod = route.method
        request.timeoutInterval = (endpoint.timeouts.total.upstreamSeconds + 5).rounded(.up)
        request.httpBody = body
        for (name, value) in headers {
            request.setValue(value, forHTTPHeaderField: name)
        }
        return request
    }

    /// A whole non-streaming exchange: the 2xx answer, or the error.
    private func exchange(_ route: UpstreamRoute, body: Data?, accept: String = "application/json",
                          options: UpstreamRequestOptions) async throws(UpstreamError) -> UpstreamResponse
    {
        let transfer = try await begin(route, body: body, accept: accept, options: options)
        var head: (status: Int, headers: [String: String])?
        var received: [UInt8] = []
        for await event in transfer.events {
            switch event {
            case .head(let status, let headers):
                head = (status, headers)
            case .body(let bytes):
                received.append(contentsOf: bytes)
                let limit = (200...299).contains(head?.status ?? 200) ? endpoint.maxResponseBytes : UpstreamErrorBody.maximumBytes
                if received.count > limit {
                    if let status = head?.status, !(200...299).contains(status) {
                        received.removeLast(received.count - limit)  // enough of an error page
                        continue
                    }
                    transfer.cancel()
                    throw UpstreamError(.invalidResponse, route: route.display, detail: "the answer exceeds \(limit) bytes")
                }
            case .end(let failure):
                if let failure {
                    // A broken error answer still tells its status; report that rather than the break.
                    if let head, !(200...299).contains(head.status) { break }
                    throw failure
                }
                guard let head else {
                    throw UpstreamError(.invalidResponse, route: route.display, detail: "the exchange ended without a response")
                }
                guard (200...299).contains(head.status) else {
                    throw httpError(route, status: head.status, headers: head.headers, body: received)
                }
                return UpstreamResponse(status: head.status, headers: head.headers, body: Data(received))
            }
        }
        if let head, !(200...299).contains(head.status) {
            throw httpError(route, status: head.status, headers: head.headers, body: received)
        }
        throw UpstreamError(.cancelled, route: route.display, detail: "the caller went away; the connection was closed")
    }

    /// Starts a streaming exchange and waits for its head.
    private func openStream(_ route: UpstreamRoute, body: Data, options: UpstreamRequestOptions)
        async throws(UpstreamError) -> UpstreamEventStream
    {
        let transfer = try await begin(route, body: body, accept: "text/event-stream", options: options)
        var events = transfer.events.makeAsyncIterator()
        while let event = await events.next() {
            switch event {
            case .head(let status, let headers):
                guard (200...299).contains(status) else {
                    let errorBody = await Self.drain(&events, limit: UpstreamErrorBody.maximumBytes, transfer: transfer)
                    throw httpError(route, status: status, headers: headers, body: errorBody)
                }
                guard (headers["content-type"] ?? "").lowercased().contains("text/event-stream") else {
                    transfer.cancel()
                    throw UpstreamError(.invalidResponse, route: route.display,
                                        detail: "a streaming request was answered with content type \"\(redactor.redact(headers["content-type"] ?? "none"))\"")
                }
                return UpstreamEventStream(status: status, headers: headers, lease: TransferLease(transfer))
            case .body:
                continue  // cannot come before the head
            case .end(let failure):
                throw failure ?? UpstreamError(.invalidResponse, route: route.display, detail: "the exchange ended without a response")
            }
        }
        throw UpstreamError(.cancelled, route: route.display, detail: "the caller went away; the connection was closed")
    }

    /// Reads the rest of an (error) body, keeping at most `limit` bytes.
    private static func drain(_ events: inout AsyncStream<TransferEvent>.Iterator, limit: Int, transfer: Transfer) async -> [UInt8] {
        var received: [UInt8] = []
        while let event = await events.next() {
            switch event {
            case .body(let bytes):
                received.append(contentsOf: bytes.prefix(max(0, limit - received.count)))
            case .end:
                return received
            case .head:
                continue
            }
        }
        transfer.cancel()
        return received
    }

    /// The error for a non-2xx answer, with the upstream's message sanitised and its Retry-After.
    private func httpError(_ route: UpstreamRoute, status: Int, headers: [String: String], body: [UInt8]) -> UpstreamError {
        let message = UpstreamErrorBody.message(in: body).map { redactor.redact($0) }.flatMap { $0.isEmpty ? nil : $0 }
        return UpstreamError(
            .http, route: route.display, upstreamStatus: status,
            retryAfterSeconds: headers["retry-after"].flatMap { RetryAfter.seconds(from: $0) },
            upstreamMessage: message, upstreamCode: UpstreamErrorBody.code(in: body))
    }
}
