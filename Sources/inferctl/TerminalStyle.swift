import Basics
import Glibc

/// Colour for people, none for scripts: ANSI colours only when the output goes to a terminal, `TERM`
/// is not `dumb`, and `NO_COLOR` is not set to a non-empty value (https://no-color.org).
struct TerminalStyle: Sendable {
    /// Whether colour codes are written.
    let colour: Bool

    /// The style for one output.
    /// - Parameters:
    ///   - descriptor: 1 for stdout, 2 for stderr.
    ///   - environment: inferctl's environment (`NO_COLOR`, `TERM`).
    init(descriptor: Int32, environment: [String: String]) {
        let noColour = !(environment["NO_COLOR"] ?? "").isEmpty
        colour = isatty(descriptor) == 1 && !noColour && environment["TERM"] != "dumb"
    }

    /// A style that never colours (JSON output).
    init(colour: Bool) {
        self.colour = colour
    }

    func bold(_ text: String) -> String { wrap(text, "1") }
    func dim(_ text: String) -> String { wrap(text, "2") }
    func red(_ text: String) -> String { wrap(text, "31") }
    func green(_ text: String) -> String { wrap(text, "32") }
    func yellow(_ text: String) -> String { wrap(text, "33") }
    func cyan(_ text: String) -> String { wrap(text, "36") }

    private func wrap(_ text: String, _ code: String) -> String {
        colour ? "\u{1B}[\(code)m\(text)\u{1B}[0m" : text
    }
}

/// Whether a descriptor is a terminal (stdin for the REPL, stderr for the progress bar).
func isTerminal(_ descriptor: Int32) -> Bool {
    isatty(descriptor) == 1
}

/// Writes text to stdout at once (streamed tokens must show as they come, not when a buffer fills).
func writeOut(_ text: String) {
    writeAll(STDOUT_FILENO, text)
}

/// Writes a line to stderr.
func writeError(_ text: String) {
    writeAll(STDERR_FILENO, text + "\n")
}

/// Writes all of `text` to a descriptor, unbuffered (no stdio buffer to flush, none shared between the
/// main thread and the REPL's Ctrl-C handler).
func writeAll(_ descriptor: Int32, _ text: String) {
    // A failure is a closed stdout or stderr: nothing more can be shown.
    try? FileIO.writeAll(descriptor, Array(text.utf8), path: "descriptor \(descriptor)")
}

extension InferctlError {
    /// Prints the error on stderr (`inferctl: ...`).
    /// - Returns: Its exit status.
    func reported() -> Int32 {
        writeError("inferctl: \(description)")
        return exitStatus
    }

    /// Runs a command's body: the shell of the API's client commands, whose body throws what stops it
    /// (no client for a bad `--url`, nothing to send) and returns the exit status otherwise.
    /// - Returns: The body's exit status, or the thrown error's once it is ``reported()``.
    static func reporting(_ body: () throws(InferctlError) -> Int32) -> Int32 {
        do {
            return try body()
        } catch {
            return error.reported()
        }
    }
}
