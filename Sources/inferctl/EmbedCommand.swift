import Foundation
import Upstream

/// `inferctl embed TEXT...`: one vector per text (`/v1/embeddings`); for people each vector's
/// dimensions, length and first values, with `--json` the server's reply with every vector.
enum EmbedCommand {
    /// How many values of each vector the table shows.
    static let valuesShown = 6

    /// Runs the command.
    /// - Parameters:
    ///   - options: The command line.
    ///   - environment: inferctl's environment (`INFER_URL`, `INFER_API_KEY`, `NO_COLOR`).
    /// - Returns: The exit status.
    static func run(_ options: EmbedOptions, environment: [String: String]) -> Int32 {
        InferctlError.reporting { () throws(InferctlError) -> Int32 in
            let api = try APIClient(options.client, environment: environment)
            var texts = options.texts
            if texts.isEmpty, !isTerminal(STDIN_FILENO), let input = readStandardInput() {
                texts = input.split(separator: "\n").map(String.init).filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
            }
            guard !texts.isEmpty else { throw .usage("embed: no text: give one or more as arguments, or lines on stdin") }
            var fields: [String: Any] = ["input": texts]
            if let model = options.model { fields["model"] = model }
            let body = RequestBody(fields)
            let path = api.path("embeddings")
            let result: Result<UpstreamResponse, UpstreamError> = runBlocking {
                do throws(UpstreamError) {
                    return .success(try await api.post(path, body.data))
                } catch {
                    return .failure(error)
                }
            }
            let reply = try result.mapError { api.failure($0, route: "POST \(path)") }.get()
            if options.client.json {
                writeOut(String(decoding: reply.body, as: UTF8.self) + "\n")
                return InferctlExit.success
            }
            guard let object = try? reply.json(), let vectors = vectors(in: object), vectors.count == texts.count else {
                throw InferctlError(.failure, "POST \(path): the reply does not hold one vector per text")
            }
            let style = TerminalStyle(descriptor: STDOUT_FILENO, environment: environment)
            writeOut(render(vectors, texts: texts, model: object["model"] as? String, usage: reply.usage, style: style))
            return InferctlExit.success
        }
    }

    /// `data[i].embedding` of an OpenAI embeddings reply, in `index` order.
    static func vectors(in reply: [String: Any]) -> [[Double]]? {
        guard let data = reply["data"] as? [[String: Any]] else { return nil }
        var indexed: [(Int, [Double])] = []
        for (position, item) in data.enumerated() {
            guard let numbers = item["embedding"] as? [Any] else { return nil }
            let vector = numbers.compactMap { ($0 as? NSNumber)?.doubleValue }
            guard vector.count == numbers.count else { return nil }
            indexed.append(((item["index"] as? Int) ?? position, vector))
        }
        return indexed.sorted { $0.0 < $1.0 }.map(\.1)
    }

    /// The table: each text's dimensions, L2 norm and first values.
    static func render(_ vectors: [[Double]], texts: [String], model: String?, usage: UpstreamUsage?, style: TerminalStyle) -> String {
        var table = TextTable(["#", "DIMS", "NORM", "FIRST VALUES", "TEXT"], rightAligned: [0, 1, 2])
        for (index, vector) in vectors.enumerated() {
            let norm = vector.reduce(0) { $0 + $1 * $1 }.squareRoot()
            let first = vector.prefix(valuesShown).map { String(format: "%+.4f", $0) }.joined(separator: " ")
            let text = texts[index]
            let shown = text.count > 40 ? String(text.prefix(39)) + "…" : text
            table.add([String(index), String(vector.count), String(format: "%.4f", norm),
                       first + (vector.count > valuesShown ? " …" : ""), shown])
        }
        var summary = "\(vectors.count) vector\(vectors.count == 1 ? "" : "s")"
        if let model { summary += " from \(model)" }
        if let usage { summary += ", \(usage.promptTokens) tokens" }
        return table.render(style: style) + style.dim(summary + "; --json prints every value") + "\n"
    }
}
