// daemon-standin: pretends to be one of infer's daemons, chosen by the name it is started under
// (a symlink `limitd` → daemon-standin), with exactly that daemon's sockets and the shared runtime's
// behaviour (socket activation, READY=1, the watchdog, drain on SIGTERM). inferctl's tests and the
// systemd container test run whole stacks of these before the real daemons exist.
import DaemonRuntime
import Foundation
import Glibc
import IPC

let environment = ProcessInfo.processInfo.environment
let role: StandinRole
do {
    role = try StandinRole(argumentZero: CommandLine.arguments.first ?? "", environment: environment)
} catch {
    FileHandle.standardError.write(Data("daemon-standin: \(error)\n".utf8))
    exit(ExitCode.config)
}
let knobs = StandinKnobs(role: role, environment: environment)

Daemon.run(name: role.daemon, settings: knobs.settings, sockets: role.sockets) { context in
    let settings = knobs.read(context.settings)
    if let status = settings.exitStatus {
        context.logger.warn("exiting at start as configured", ["status": LogValue(status)])
        fflush(nil)
        _exit(status)
    }
    context.setStatus("starting")
    try await Task.sleep(for: settings.startDelay)
    return StandinService(
        identity: role.identity, listeners: context.listeners.values.flatMap { $0 }, healthy: settings.healthy)
}
