// runtime-probe: the smallest daemon on the shared runtime, for the runtime's tests. It answers every
// connection on its one socket with PROBE_REPLY and a newline, and logs what it got from the runtime.
import DaemonRuntime
import Dispatch
import Glibc
import IPC
import Settings

let reply = Setting<String>(
    name: "PROBE_REPLY", default: "ok", meaning: "Line written to every connection before closing it.")
let maxConnections = Setting<Int>(
    name: "PROBE_MAX_CONNECTIONS", default: 100, meaning: "Connections served before refusing more.",
    range: 1...1000)
let healthy = Setting<Bool>(
    name: "PROBE_HEALTHY", default: true, meaning: "What isHealthy() answers (false stops watchdog pings).")
let drainTime = Setting<Duration>(
    name: "PROBE_DRAIN_MS", default: .zero, meaning: "How long draining pretends to finish in-flight work.",
    unit: .milliseconds, range: .zero ... .seconds(60))
let startTime = Setting<Duration>(
    name: "PROBE_START_MS", default: .zero, meaning: "How long start pretends to load a model.",
    unit: .milliseconds, range: .zero ... .seconds(60))

Daemon.run(
    name: "runtime-probe",
    settings: [reply, maxConnections, healthy, drainTime, startTime],
    sockets: [.unix("probe")]
) { context in
    context.setStatus("loading")
    try await Task.sleep(for: context.settings[startTime])
    let sockets = context.listeners["probe"] ?? []
    for socket in sockets {
        let flags = fcntl(socket.fileDescriptor, F_GETFL)
        let descriptorFlags = fcntl(socket.fileDescriptor, F_GETFD)
        context.logger.info("probe listener", [
            "fd": LogValue(socket.fileDescriptor), "address": .string(socket.address),
            "activated": .bool(socket.activated),
            "nonblock": .bool(flags & O_NONBLOCK != 0), "cloexec": .bool(descriptorFlags & FD_CLOEXEC != 0),
            "listen_env_left": .bool(getenv("LISTEN_FDS") != nil || getenv("LISTEN_PID") != nil
                || getenv("LISTEN_FDNAMES") != nil),
        ])
    }
    return ProbeService(
        descriptors: sockets.map(\.fileDescriptor), reply: context.settings[reply],
        healthy: context.settings[healthy], drainTime: context.settings[drainTime])
}
