/// One message of a chat.
public struct ChatMessage: Sendable, Equatable {
    /// Who speaks: "system", "user", "assistant", ...
    public var role: String
    /// What they say.
    public var content: String

    /// A message from `role`.
    public init(role: String, content: String) {
        self.role = role
        self.content = content
    }
}

/// A template refused by `ChatTemplate`.
public struct ChatTemplateError: Error, CustomStringConvertible, Equatable {
    /// What is wrong with the template.
    public let message: String
    /// An error with this message.
    public init(_ message: String) { self.message = message }
    /// The message.
    public var description: String { message }
}

/// Renders chats in the ChatML form (`<|im_start|>role\ncontent<|im_end|>\n`) that a model's
/// Jinja chat template (GGUF `tokenizer.chat_template`) describes. The template is not executed:
/// it is recognised as ChatML and its default system prompt, if it has one, is read out of it.
public struct ChatTemplate: Sendable, Equatable {
    /// The text that opens a turn.
    public static let turnStart = "<|im_start|>"
    /// The text (a special token) that ends a turn; generation of an assistant turn stops on it.
    public static let turnEnd = "<|im_end|>"

    /// The system prompt added when a chat does not start with a system message, or nil.
    public let defaultSystemPrompt: String?

    /// The token that ends an assistant turn, as text (`<|im_end|>`); see `endOfTurnID(in:)`.
    public var endOfTurn: String { Self.turnEnd }

    /// Reads a model's chat template.
    /// - Parameter template: the Jinja template text, or nil for plain ChatML with no default
    ///   system prompt.
    /// - Throws: `ChatTemplateError` when the template is not ChatML.
    public init(template: String?) throws {
        guard let template else {
            defaultSystemPrompt = nil
            return
        }
        guard template.contains(Self.turnStart), template.contains(Self.turnEnd) else {
            throw ChatTemplateError("unrecognised chat template: only ChatML templates (<|im_start|>role ... <|im_end|>) are supported; the template begins \"\(template.prefix(80))\"")
        }
        guard template.contains("role"), template.contains("content") else {
            throw ChatTemplateError("unrecognised chat template: it has ChatML markers but does not render message['role'] and message['content']")
        }
        defaultSystemPrompt = Self.literalSystemPrompt(in: template)
    }

    /// Reads the chat template of a GGUF file (`tokenizer.chat_template`; plain ChatML when absent).
    /// - Throws: `ChatTemplateError` when the template is not ChatML.
    public init(gguf: GGUFFile) throws {
        try self.init(template: gguf.metadata["tokenizer.chat_template"]?.string)
    }

    /// A template with this default system prompt (nil for none).
    public init(defaultSystemPrompt: String?) {
        self.defaultSystemPrompt = defaultSystemPrompt
    }

    /// Renders a chat: the default system prompt's turn when the first message is not a system
    /// message (and the template has one), each message's turn, then, when `addGenerationPrompt`,
    /// the opening of the assistant's turn.
    public func render(_ messages: [ChatMessage], addGenerationPrompt: Bool = true) -> String {
        var out = ""
        if let system = defaultSystemPrompt, messages.first?.role != "system" {
            out += "\(Self.turnStart)system\n\(system)\(Self.turnEnd)\n"
        }
        for m in messages {
            out += "\(Self.turnStart)\(m.role)\n\(m.content)\(Self.turnEnd)\n"
        }
        if addGenerationPrompt { out += "\(Self.turnStart)assistant\n" }
        return out
    }

    /// The id of the token that ends an assistant turn in `tokenizer`'s vocabulary (falling back
    /// to its end-of-sequence token when it has no `<|im_end|>`).
    public func endOfTurnID(in tokenizer: BPETokenizer) -> Int32 {
        tokenizer.id(of: Self.turnEnd) ?? tokenizer.eosID
    }

    /// The first literal system turn written in the template: the text of a string literal that
    /// goes `<|im_start|>system` newline, text, `<|im_end|>`, with no template code in between.
    static func literalSystemPrompt(in template: String) -> String? {
        let opener = "\(turnStart)system"
        var rest = template[...]
        while let r = rest.range(of: opener) {
            // The literal's quote: the nearest quote character before the opener.
            let quote: Character = template[..<r.lowerBound].last(where: { $0 == "'" || $0 == "\"" }) ?? "'"
            rest = rest[r.upperBound...]
            var body = rest
            if body.hasPrefix("\n") {
                body = body.dropFirst()
            } else if body.hasPrefix("\\n") {
                body = body.dropFirst(2)
            } else {
                continue
            }
            guard let end = body.range(of: turnEnd) else { continue }
            let raw = body[..<end.lowerBound]
            // Template code (a variable, a block, a closing quote) means the prompt is not literal.
            if raw.contains("{{") || raw.contains("{%") || raw.contains("}}") || raw.contains("%}") { continue }
            if let unescaped = unescapeJinjaLiteral(raw, quote: quote) { return unescaped }
        }
        return nil
    }

    /// Undoes Jinja string-literal escapes; nil when the text holds an unescaped `quote` (so it is
    /// not the inside of one literal).
    private static func unescapeJinjaLiteral(_ raw: Substring, quote: Character) -> String? {
        var out = ""
        var escaping = false
        for ch in raw {
            if escaping {
                switch ch {
                case "n": out.append("\n")
                case "t": out.append("\t")
                case "r": out.append("\r")
                default: out.append(ch)
                }
                escaping = false
            } else if ch == "\\" {
                escaping = true
            } else if ch == quote {
                return nil
            } else {
                out.append(ch)
            }
        }
        return escaping ? nil : out
    }
}
