import Foundation

/// `inferctl chat`: a conversation on a terminal (the REPL), or one question and its answer with `-m`
/// or a message on stdin.
enum ChatCommand {
    /// Runs the command.
    /// - Parameters:
    ///   - options: The command line.
    ///   - environment: inferctl's environment (`INFER_URL`, `INFER_API_KEY`, `NO_COLOR`).
    /// - Returns: The exit status.
    static func run(_ options: ChatOptions, environment: [String: String]) -> Int32 {
        InferctlError.reporting { () throws(InferctlError) -> Int32 in
            let api = try APIClient(options.client, environment: environment)
            if options.message == nil && isTerminal(STDIN_FILENO) && !options.client.json {
                let repl = ChatREPL(api: api, options: options, style: TerminalStyle(descriptor: STDOUT_FILENO, environment: environment))
                return repl.run()
            }
            guard let message = options.message ?? readStandardInput() else {
                throw .usage("chat: no message: give -m MESSAGE, pipe one on stdin, or run it on a terminal to talk")
            }
            let body = requestBody(options, messages: conversationStart(options.system) + [["role": "user", "content": message]])
            let outcome = runBlocking {
                await GenerationCall.run(api: api, route: "chat/completions", body: body, kind: .chat, stream: options.stream,
                                         json: options.client.json)
            }
            return outcome.exitStatus()
        }
    }

    /// The messages a conversation starts with: the system message, when given.
    static func conversationStart(_ system: String?) -> [[String: String]] {
        system.map { [["role": "system", "content": $0]] } ?? []
    }

    /// The chat request for the conversation so far.
    static func requestBody(_ options: ChatOptions, messages: [[String: String]]) -> RequestBody {
        var body = RequestBody(options.generation.bodyFields)
        body.fields["messages"] = messages
        return body
    }
}
