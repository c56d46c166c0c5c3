// limitd: rate limits per client key. frontd asks it to admit each request (GCRA over a sliding window)
// and settles the tokens each one used. See docs/limitd.md.
import DaemonRuntime
import IPC
import Settings

let requestsPerMinute = Setting<Int>(
    name: "RATE_LIMIT_RPM", default: 60,
    meaning: "Requests per minute allowed per key, unless frontd sends the key's own rate.",
    range: 1...1_000_000)
let window = Setting<Duration>(
    name: "RATE_LIMIT_WINDOW_SEC", default: .seconds(60),
    meaning: "Window the rate is enforced over: a key may make RPM × window / 60 s requests (at least 1) at once.",
    unit: .seconds, range: .seconds(1) ... .seconds(86_400))
let maxKeys = Setting<Int>(
    name: "RATE_LIMIT_MAX_KEYS", default: 100_000,
    meaning: "Most keys remembered; the least recently seen are forgotten beyond it.",
    range: 1...100_000_000)

Daemon.run(
    name: "limitd",
    settings: [requestsPerMinute, window, maxKeys],
    sockets: [.unix("limitd")]
) { context in
    let limiter = RateLimiter(
        requestsPerMinute: context.settings[requestsPerMinute], window: context.settings[window],
        maxKeys: context.settings[maxKeys])
    let service = LimitService(listenFD: try context.listener("limitd").fileDescriptor, limiter: limiter, logger: context.logger)
    try service.start()
    return service
}
