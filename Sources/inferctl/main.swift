// inferctl: the operator's command line. `inferctl up` runs the whole stack without systemd, the way the
// units in systemd/ run it; `inferctl status` shows it. See `inferctl --help` and docs/OPERATIONS.md.
import Foundation
import Glibc

let status = Inferctl.main(
    arguments: Array(CommandLine.arguments.dropFirst()), environment: ProcessInfo.processInfo.environment)
fflush(nil)
exit(status)
