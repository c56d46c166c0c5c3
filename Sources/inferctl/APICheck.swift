import Foundation
import Upstream

/// What a check gets: the API with the operator's key, the same API with a key that cannot be valid,
/// and the models to ask for.
struct APICheckContext: Sendable {
    let api: APIClient
    let wrongKeyAPI: APIClient
    /// `--model`: the generation model (nil: the server's default).
    let model: String?
    /// `--embedding-model` (nil: the server's default).
    let embeddingModel: String?

    /// A generation request's fields: the model when given, 8 tokens, greedy.
    func generation(_ fields: [String: Any]) -> Data {
        var body = fields
        if let model { body["model"] = model }
        return APIClient.json(body)
    }
}

/// A check that did not pass: why, and the status the server answered, when it answered.
struct CheckFailure: Error {
    let detail: String
    var status: Int?
}

/// A check that passed: the status and a few words on what was seen (`2 models: smollm2, minilm`).
struct CheckPass: Sendable {
    let status: Int
    let detail: String
}

/// One check of `inferctl test-api`: a route of the running stack, called the way a client would, and
/// what its answer must be.
struct APICheck: Sendable {
    /// What is checked, in a few words.
    let name: String
    /// `GET /health`.
    let route: String
    /// Calls the route and judges the answer.
    let run: @Sendable (APICheckContext) async throws(CheckFailure) -> CheckPass

    /// A route that must answer 2xx with JSON `judge` accepts (it returns the detail, or throws).
    static func json(_ name: String, _ method: String, _ path: String, body: (@Sendable (APICheckContext) -> Data)? = nil,
                     judge: @escaping @Sendable ([String: Any]) throws(CheckFailure) -> String) -> APICheck {
        APICheck(name: name, route: "\(method) \(path)") { context throws(CheckFailure) in
            let reply = try await call(context.api, method, path, body: body?(context))
            guard let object = try? reply.json() else {
                throw CheckFailure(detail: "the answer is not a JSON object", status: reply.status)
            }
            return CheckPass(status: reply.status, detail: try judge(object))
        }
    }

    /// A route that must be refused with `status` (an auth failure, a bad request): the error body must be
    /// frontd's `{"error": {...}}`, which the client read into the error's code or message.
    static func refusal(_ name: String, _ method: String, _ path: String, status: Int, wrongKey: Bool = false,
                        body: (@Sendable (APICheckContext) -> Data)? = nil) -> APICheck {
        APICheck(name: name, route: "\(method) \(path)") { context throws(CheckFailure) in
            let api = wrongKey ? context.wrongKeyAPI : context.api
            do {
                let reply = try await api.client.call(method, path: api.serverPath(path), body: body?(context),
                                                      options: api.requestOptions())
                throw CheckFailure(detail: "accepted (\(reply.status)); expected \(status)", status: reply.status)
            } catch let error as UpstreamError {
                guard error.kind == .http, let answered = error.upstreamStatus else {
                    throw CheckFailure(detail: APIClient.describe(error))
                }
                guard answered == status else {
                    throw CheckFailure(detail: "answered \(APIClient.describe(error)); expected \(status)", status: answered)
                }
                guard error.upstreamCode != nil || error.upstreamMessage != nil else {
                    throw CheckFailure(detail: "\(status) without an error object", status: answered)
                }
                return CheckPass(status: answered, detail: error.upstreamCode ?? error.upstreamMessage ?? "")
            } catch let failure as CheckFailure {
                throw failure
            } catch {
                throw CheckFailure(detail: "\(error)")
            }
        }
    }

    /// A streaming route that must deliver text and end properly.
    static func stream(_ name: String, _ path: String, kind: AnswerKind, body: @escaping @Sendable (APICheckContext) -> Data,
                       judge: @escaping @Sendable (StreamedAnswer) throws(CheckFailure) -> String) -> APICheck {
        APICheck(name: name, route: "POST \(path)") { context throws(CheckFailure) in
            let api = context.api
            let status: Int
            let answer: StreamedAnswer
            do throws(UpstreamError) {
                let events = try await api.stream(api.serverPath(path), body(context))
                status = events.status
                answer = try await StreamedAnswer.read(events, kind: kind, route: "POST \(path)") { _ in }
            } catch {
                throw CheckFailure(detail: APIClient.describe(error), status: error.upstreamStatus)
            }
            return CheckPass(status: status, detail: try judge(answer))
        }
    }

    /// Calls a route of the server; an error status or a transport failure becomes the check's failure.
    static func call(_ api: APIClient, _ method: String, _ path: String, body: Data? = nil, accept: String = "application/json")
        async throws(CheckFailure) -> UpstreamResponse
    {
        do {
            return try await api.client.call(method, path: api.serverPath(path), body: body, accept: accept,
                                             options: api.requestOptions())
        } catch {
            throw CheckFailure(detail: APIClient.describe(error), status: error.upstreamStatus)
        }
    }
}

/// Reading fields of a JSON answer in a check, failing with the field's name.
extension [String: Any] {
    func field<T>(_ name: String, as type: T.Type = T.self) throws(CheckFailure) -> T {
        guard let value = self[name] as? T else { throw CheckFailure(detail: "no \"\(name)\" of the right type in the answer") }
        return value
    }
}
