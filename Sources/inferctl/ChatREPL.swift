import Foundation
import Synchronization

/// `inferctl chat` on a terminal: a conversation, kept across turns, with answers printed as they
/// stream. `/reset` forgets the conversation, `/exit` or Ctrl-D ends it, Ctrl-C stops the answer being
/// written (or clears the line being typed) and never ends the REPL.
struct ChatREPL {
    let api: APIClient
    let options: ChatOptions
    let style: TerminalStyle

    /// The REPL's own commands and what they do, for `/help`.
    static let commands = [
        ("/reset", "forget the conversation (the system message stays)"),
        ("/exit", "leave (also /quit and Ctrl-D)"),
        ("/help", "show this"),
    ]

    /// Reads lines until `/exit` or end of input.
    /// - Returns: 0.
    func run() -> Int32 {
        var messages = ChatCommand.conversationStart(options.system)
        let interrupts = InterruptHandler()
        let prompt = style.bold(style.cyan("> "))
        let model = options.generation.model.map { ", model \($0)" } ?? ""
        writeOut(style.dim("inferctl chat: \(api.baseURL)\(model). /help lists commands; Ctrl-C stops an answer, "
            + "Ctrl-D or /exit leaves.") + "\n")
        let atPrompt: @Sendable () -> Void = {
            // The terminal already dropped the half-typed line; start a fresh one.
            writeOut("\n" + prompt)
        }
        while true {
            interrupts.onInterrupt(atPrompt)
            writeOut(prompt)
            guard let line = readLine() else {
                writeOut("\n")
                return InferctlExit.success
            }
            let text = line.trimmingCharacters(in: .whitespaces)
            switch text {
            case "":
                continue
            case "/exit", "/quit":
                return InferctlExit.success
            case "/reset":
                messages = ChatCommand.conversationStart(options.system)
                writeOut(style.dim("(conversation cleared)") + "\n")
                continue
            case "/help":
                let lines = Self.commands.map { "  \($0.0.padding(toLength: 8, withPad: " ", startingAt: 0)) \($0.1)" }
                writeOut(style.dim(lines.joined(separator: "\n")) + "\n")
                continue
            default:
                if text.hasPrefix("/") && !text.contains(" ") {
                    writeOut(style.yellow("unknown command \(text); /help lists them") + "\n")
                    continue
                }
            }
            messages.append(["role": "user", "content": line])
            switch answer(messages, interrupts: interrupts) {
            case .answered(let reply, let tokens, let seconds, let total):
                messages.append(["role": "assistant", "content": reply])
                // The conversation's size (the server's count of prompt and answer) shows how much of the
                // model's context it takes, and that it is kept across turns.
                let size = total.map { "; the conversation is \($0) tokens" } ?? ""
                writeOut(style.dim(String(format: "(%d tokens, %.1f s", tokens, seconds) + size + ")") + "\n")
            case .interrupted(let partial):
                // The conversation keeps what was shown, so a follow-up can refer to it.
                if !partial.isEmpty { messages.append(["role": "assistant", "content": partial]) } else { messages.removeLast() }
                writeOut(style.yellow("(stopped)") + "\n")
            case .failed(let error):
                // The question was not answered: take it back, so it can be asked again.
                messages.removeLast()
                writeOut(style.red("error: \(error.description)") + "\n")
            }
        }
    }

    /// One answer, streamed; a Ctrl-C while it runs cancels it.
    private func answer(_ messages: [[String: String]], interrupts: InterruptHandler) -> GenerationOutcome {
        let body = ChatCommand.requestBody(options, messages: messages)
        let api = self.api
        let stream = options.stream
        let task = Task {
            await GenerationCall.run(api: api, route: "chat/completions", body: body, kind: .chat, stream: stream, json: false)
        }
        interrupts.onInterrupt { task.cancel() }
        return runBlocking { await task.value }
    }
}
