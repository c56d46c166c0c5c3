import Glibc

/// `inferctl complete`: one prompt continued by the model (`/v1/completions`, the raw prompt without a
/// chat template), streamed as it is written.
enum CompleteCommand {
    /// Runs the command.
    /// - Parameters:
    ///   - options: The command line.
    ///   - environment: inferctl's environment (`INFER_URL`, `INFER_API_KEY`).
    /// - Returns: The exit status.
    static func run(_ options: CompleteOptions, environment: [String: String]) -> Int32 {
        InferctlError.reporting { () throws(InferctlError) -> Int32 in
            let api = try APIClient(options.client, environment: environment)
            guard let prompt = options.prompt ?? (isTerminal(STDIN_FILENO) ? nil : readStandardInput()) else {
                throw .usage("complete: no prompt: give -p PROMPT or pipe one on stdin")
            }
            var fields = options.generation.bodyFields
            fields["prompt"] = prompt
            let body = RequestBody(fields)
            let outcome = runBlocking {
                await GenerationCall.run(api: api, route: "completions", body: body, kind: .completion, stream: options.stream,
                                         json: options.client.json)
            }
            return outcome.exitStatus()
        }
    }
}
