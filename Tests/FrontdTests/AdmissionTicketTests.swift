import Services
import Testing

@testable import frontd

@Suite("Frontd: rate-limit headers and admission tickets")
struct AdmissionTicketTests {
    @Test("reset durations read like OpenAI's (Go's time.Duration)", arguments: [
        (UInt32(0), "0s"), (1, "1ms"), (20, "20ms"), (999, "999ms"), (1000, "1s"), (1500, "1.5s"), (1250, "1.25s"),
        (60_000, "1m0s"), (360_000, "6m0s"), (90_500, "1m30.5s"), (3_600_000, "1h0m0s"), (3_723_004, "1h2m3.004s"),
    ])
    func durations(milliseconds: UInt32, text: String) {
        #expect(AdmissionTicket.duration(milliseconds: milliseconds) == text)
    }

    @Test("headers carry the requests and tokens limits; a kind without a limit is left out")
    func headers() {
        let ticket = AdmissionTicket()
        #expect(ticket.headers().isEmpty)
        ticket.admitted(reservation: 9, requests: LimitProtocol.LimitStatus(limit: 60, remaining: 59, resetMs: 1000),
                        tokens: LimitProtocol.LimitStatus(), promptBound: 10)
        let headers = ticket.headers()
        #expect(headers["x-ratelimit-limit-requests"] == "60")
        #expect(headers["x-ratelimit-remaining-requests"] == "59")
        #expect(headers["x-ratelimit-reset-requests"] == "1s")
        #expect(headers["x-ratelimit-limit-tokens"] == nil)
    }

    @Test("a reservation is settled once; a batch's items settle partly and its end closes it")
    func settlements() throws {
        let single = AdmissionTicket()
        single.admitted(reservation: 5, requests: nil, tokens: nil, promptBound: 30)
        #expect(single.settlement().reservation == 5)
        #expect(single.settlement().reservation == nil)
        #expect(single.close() == nil)

        let stream = AdmissionTicket()
        stream.admitted(reservation: 6, requests: nil, tokens: nil, promptBound: 30)
        stream.observe(completionTokens: 4)
        stream.observe(completionTokens: 7)
        // Cut short: charged the prompt's bound and what was generated.
        let open = try #require(stream.close())
        #expect(open.reservation == 6 && open.promptTokens == 30 && open.completionTokens == 7)

        let batch = AdmissionTicket()
        batch.admitted(reservation: 7, requests: nil, tokens: nil, partial: true)
        #expect(batch.settlement().final == false)
        #expect(batch.settlement().reservation == 7)
        #expect(batch.close()?.completionTokens == 0)
    }

    @Test("the prompt bound is at least the bytes of every message plus the template's allowance")
    func promptBound() {
        let chat = GenerationProtocol.Generate(requestID: "r", model: "m",
                                               messages: [.init(role: "user", content: "héllo")], parameters: .init(maxTokens: 5, temperature: 0))
        #expect(chat.promptTokenBound == 6 + 4 + 8 + 128)
        let raw = GenerationProtocol.Generate(requestID: "r", model: "m", prompt: "abc", parameters: .init(maxTokens: 5, temperature: 0))
        #expect(raw.promptTokenBound == 3 + 8)
    }
}
