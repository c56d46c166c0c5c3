import Testing
import Foundation
@testable import Engine

@Suite struct ChatTemplateTests {
    static let question = ChatMessage(role: "user", content: "What is the capital of France?")

    func smolTemplate() throws -> ChatTemplate {
        let loaded = try SmolLM2Tokenizer.loaded.get()
        let text: String = try #require(loaded.chatTemplate)
        return try ChatTemplate(template: text)
    }

    @Test func rendersAnExplicitSystemMessage() throws {
        let t = try smolTemplate()
        let text = t.render([ChatMessage(role: "system", content: "Be brief."), Self.question])
        #expect(text == "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n")
    }

    @Test func addsTheTemplatesDefaultSystemPrompt() throws {
        let t = try smolTemplate()
        #expect(t.defaultSystemPrompt == "You are a helpful AI assistant named SmolLM, trained by Hugging Face")
        let text = t.render([Self.question])
        #expect(text == "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n")
        #expect(t.render([Self.question], addGenerationPrompt: false).hasSuffix("France?<|im_end|>\n"))
    }

    @Test func renderedChatTokenizesLikeTheReference() throws {
        let tok = try SmolLM2Tokenizer.tokenizer()
        let reference = try #require(try TokenizerFixtures.numpyPrompts().first { $0.text.hasPrefix("<|im_start|>") })
        let plain = try ChatTemplate(template: nil)
        #expect(plain.defaultSystemPrompt == nil)
        let text = plain.render([Self.question])
        #expect(text == reference.text)
        #expect(tok.encode(text) == reference.ids)
    }

    @Test func endOfTurnIsImEnd() throws {
        let t = try smolTemplate()
        let tok = try SmolLM2Tokenizer.tokenizer()
        #expect(t.endOfTurn == "<|im_end|>")
        #expect(t.endOfTurnID(in: tok) == 2)
        #expect(tok.isSpecial(t.endOfTurnID(in: tok)))
    }

    @Test(arguments: [
        // Llama 3
        "{% for message in messages %}{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] + '<|eot_id|>' }}{% endfor %}",
        // Gemma
        "{% for message in messages %}{{ '<start_of_turn>' + message['role'] + '\\n' + message['content'] + '<end_of_turn>\\n' }}{% endfor %}",
        "",
        "<|im_start|> without an end marker",
    ])
    func refusesOtherTemplates(_ template: String) {
        #expect(throws: ChatTemplateError.self) { try ChatTemplate(template: template) }
    }

    @Test func readsEscapedAndDoubleQuotedDefaults() throws {
        // Qwen 2.5 style: a conditional system turn built from the message, then a literal default.
        let qwen = "{%- if messages[0]['role'] == 'system' %}{{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}{%- else %}{{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}{%- endif %}{%- for message in messages %}{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}{%- endfor %}"
        #expect(try ChatTemplate(template: qwen).defaultSystemPrompt == "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.")
        let quoted = "{{ \"<|im_start|>system\\nYou're kind.<|im_end|>\\n\" }}{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>\\n' }}{% endfor %}"
        #expect(try ChatTemplate(template: quoted).defaultSystemPrompt == "You're kind.")
        // ChatML without a default system prompt.
        let bare = "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>\\n' }}{% endfor %}"
        let t = try ChatTemplate(template: bare)
        #expect(t.defaultSystemPrompt == nil)
        #expect(t.render([Self.question]) == "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n")
    }
}
