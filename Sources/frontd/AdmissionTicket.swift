import HTTP
import Services
import Synchronization

/// One request's admission by limitd: the reservation to settle, what the request is known to have used
/// so far, and the `x-ratelimit-*` headers every reply of the request carries (streams included, as they
/// are known before the first byte).
final class AdmissionTicket: Sendable {
    private struct State {
        var reservation: UInt64 = 0
        /// Admitted through protocol version 1 (a limitd older than reservations): settled with `Settle`.
        var versionOne = false
        /// A batch settles each item and ends the reservation once, at the end of the request.
        var partial = false
        var finished = false
        var requests: LimitProtocol.LimitStatus?
        var tokens: LimitProtocol.LimitStatus?
        /// The reservation's prompt-token bound, and the completion tokens seen in stream chunks: what a
        /// request that ends without its usage (a failure or a disconnect mid-stream) is charged for.
        var promptBound = 0
        var completionSeen = 0
    }

    private let state = Mutex(State())

    /// Records limitd's answer; `reservation` is 0 when refused or admitted by version 1.
    func admitted(reservation: UInt64, versionOne: Bool = false, requests: LimitProtocol.LimitStatus?,
                  tokens: LimitProtocol.LimitStatus?, promptBound: Int = 0, partial: Bool = false) {
        state.withLock {
            $0 = State(reservation: reservation, versionOne: versionOne, partial: partial, requests: requests, tokens: tokens,
                       promptBound: promptBound)
        }
    }

    /// Notes a stream chunk's completion-token count (cumulative).
    func observe(completionTokens: UInt32) {
        state.withLock { $0.completionSeen = max($0.completionSeen, Int(completionTokens)) }
    }

    /// What a settlement of this request sends: the reservation and whether it is final (then the ticket
    /// is finished), or nil when there is none to settle; and whether version 1's `Settle` applies.
    func settlement() -> (reservation: UInt64?, final: Bool, versionOne: Bool) {
        state.withLock { state in
            guard state.reservation != 0, !state.finished else { return (nil, false, state.versionOne) }
            if !state.partial { state.finished = true }
            return (state.reservation, !state.partial, false)
        }
    }

    /// The reservation still open at the end of the request, with the usage to charge it (the prompt's
    /// bound and the completion tokens seen), or nil; the ticket is finished either way.
    func close() -> (reservation: UInt64, promptTokens: Int, completionTokens: Int)? {
        state.withLock { state in
            guard state.reservation != 0, !state.finished else { return nil }
            state.finished = true
            // A batch's items settled their own usage: its end only releases.
            if state.partial { return (state.reservation, 0, 0) }
            return (state.reservation, state.completionSeen > 0 ? state.promptBound : 0, state.completionSeen)
        }
    }

    /// `x-ratelimit-limit-requests`, `-remaining-requests`, `-reset-requests` and the same for tokens
    /// (OpenAI's names; reset as a Go duration such as `6m0s` or `20ms`); a kind without a limit is left out.
    func headers() -> HTTPHeaders {
        var headers = HTTPHeaders()
        let (requests, tokens) = state.withLock { ($0.requests, $0.tokens) }
        for (kind, status) in [("requests", requests), ("tokens", tokens)] {
            guard let status, status.limit > 0 else { continue }
            headers.add(name: "x-ratelimit-limit-" + kind, value: String(status.limit))
            headers.add(name: "x-ratelimit-remaining-" + kind, value: String(status.remaining))
            headers.add(name: "x-ratelimit-reset-" + kind, value: Self.duration(milliseconds: status.resetMs))
        }
        return headers
    }

    /// Milliseconds as Go's `time.Duration` prints them, the way OpenAI's reset headers read: `0s`,
    /// `20ms`, `1s`, `1.5s`, `6m0s`, `1h2m3s`.
    static func duration(milliseconds: UInt32) -> String {
        let ms = Int(milliseconds)
        if ms == 0 { return "0s" }
        if ms < 1000 { return "\(ms)ms" }
        let hours = ms / 3_600_000, minutes = ms / 60_000 % 60, seconds = ms / 1000 % 60, fraction = ms % 1000
        var text = ""
        if hours > 0 { text += "\(hours)h" }
        if hours > 0 || minutes > 0 { text += "\(minutes)m" }
        text += "\(seconds)"
        if fraction > 0 {
            var digits = String(fraction)
            digits = String(repeating: "0", count: 3 - digits.count) + digits
            while digits.hasSuffix("0") { digits.removeLast() }
            text += "." + digits
        }
        return text + "s"
    }
}
