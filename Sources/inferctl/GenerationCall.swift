import Basics
import Foundation
import Upstream

/// A JSON request body: an object of strings, numbers, booleans, arrays and objects.
struct RequestBody: @unchecked Sendable {
    // @unchecked: only the value types JSON is made of are put in it (the commands build it from literals
    // and options), and it is never mutated once handed over.
    var fields: [String: Any]

    init(_ fields: [String: Any]) {
        self.fields = fields
    }

    /// The bytes to send.
    var data: Data { APIClient.json(fields) }
}

/// How one generation request ended.
enum GenerationOutcome: Sendable {
    /// The whole answer arrived (and was printed): its text, its tokens, how long it took, and the
    /// tokens of prompt and answer together when the server reported usage.
    case answered(text: String, tokens: Int, seconds: Double, total: Int?)
    /// Ctrl-C stopped it; what had arrived was printed.
    case interrupted(partial: String)
    /// The request failed.
    case failed(InferctlError)

    /// The exit status of a one-shot command that ended so (a failure reported on stderr first).
    func exitStatus() -> Int32 {
        switch self {
        case .answered: InferctlExit.success
        case .interrupted: InferctlExit.failure
        case .failed(let error): error.reported()
        }
    }
}

/// One chat or completion request whose answer is printed as it comes: piece by piece when streaming,
/// at once otherwise, or the server's JSON as it is with `--json`.
enum GenerationCall {
    /// Sends the request and prints the answer on stdout.
    /// - Parameters:
    ///   - api: The API.
    ///   - route: `chat/completions` or `completions`, under the base URL.
    ///   - body: The request without its `stream` fields.
    ///   - kind: Where the text is in the answer.
    ///   - stream: Ask for a stream (ignored with `json`, which prints the whole reply).
    ///   - json: Print the server's reply as it is.
    /// - Returns: The outcome; `interrupted` when the task was cancelled.
    static func run(api: APIClient, route: String, body: RequestBody, kind: AnswerKind, stream: Bool, json: Bool) async
        -> GenerationOutcome
    {
        let path = api.path(route)
        let display = "POST \(path)"
        let started = ContinuousClock.now
        var shown = ""
        do throws(UpstreamError) {
            if stream && !json {
                var streamed = body
                streamed.fields["stream"] = true
                streamed.fields["stream_options"] = ["include_usage": true]
                let events = try await api.stream(path, streamed.data)
                let answer = try await StreamedAnswer.read(events, kind: kind, route: display) { piece in
                    shown += piece
                    writeOut(piece)
                }
                if !answer.text.hasSuffix("\n") { writeOut("\n") }
                return .answered(text: answer.text, tokens: answer.usage?.completionTokens ?? answer.pieces,
                                 seconds: (ContinuousClock.now - started).seconds, total: answer.usage?.totalTokens)
            }
            let reply = try await api.post(path, body.data)
            if json {
                writeOut(String(decoding: reply.body, as: UTF8.self) + "\n")
                return .answered(text: "", tokens: reply.usage?.completionTokens ?? 0, seconds: (ContinuousClock.now - started).seconds,
                                 total: reply.usage?.totalTokens)
            }
            let object = try reply.json()
            let choice = (object["choices"] as? [[String: Any]])?.first
            let text = kind == .chat ? (choice?["message"] as? [String: Any])?["content"] as? String : choice?["text"] as? String
            guard let text else { throw UpstreamError.invalidResponse(route: display, "the reply has no choices[0] text") }
            writeOut(text.hasSuffix("\n") ? text : text + "\n")
            return .answered(text: text, tokens: reply.usage?.completionTokens ?? 0, seconds: (ContinuousClock.now - started).seconds,
                             total: reply.usage?.totalTokens)
        } catch where error.kind == .cancelled {
            if !shown.isEmpty && !shown.hasSuffix("\n") { writeOut("\n") }
            return .interrupted(partial: shown)
        } catch {
            if !shown.isEmpty && !shown.hasSuffix("\n") { writeOut("\n") }
            return .failed(api.failure(error, route: display))
        }
    }
}

/// All of stdin as text, its last line end removed; nil when it is empty.
func readStandardInput() -> String? {
    let data = FileHandle.standardInput.readDataToEndOfFile()
    var text = String(decoding: data, as: UTF8.self)
    while text.hasSuffix("\n") || text.hasSuffix("\r") { text.removeLast() }
    return text.isEmpty ? nil : text
}
