// frontd: the HTTP front. Parses and validates, asks limitd, cached and batchd in turn, answers in
// the OpenAI format (JSON or SSE).
import DaemonRuntime
import IPC

Daemon.run(
    name: "frontd",
    settings: FrontSettings.table,
    sockets: [.tcp("http", port: RuntimeSettings.port), .unix("frontd")],
    check: FrontSettings.check
) { context in
    try await FrontService.start(context)
}
