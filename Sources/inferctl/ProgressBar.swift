import Basics
import Foundation

/// The line `inferctl bench` redraws on stderr while it runs, when stderr is a terminal:
/// `[#########...........]  42/100 requests  8.3 s  5.1 req/s  0 failed`.
struct ProgressBar: Sendable {
    let plan: BenchPlan
    /// Colours of stderr.
    let style: TerminalStyle

    /// Characters of the bar itself.
    static let width = 30

    /// The fraction done: of the requests when a count was given, of the time when a duration was (or
    /// neither), the larger when both were.
    func fraction(issued: Int, elapsed: Double) -> Double {
        var parts: [Double] = []
        if let count = plan.requestsGiven { parts.append(Double(issued) / Double(count)) }
        if plan.requestsGiven == nil || plan.durationGiven != nil { parts.append(elapsed / plan.timeLimit.seconds) }
        return min(1, max(0, parts.max() ?? 0))
    }

    /// The line for the recorder's progress, without the carriage return.
    func line(_ recorder: BenchRecorder) -> String {
        let (issued, succeeded, failed, elapsed) = recorder.progress
        let filled = Int((fraction(issued: issued, elapsed: elapsed) * Double(Self.width)).rounded(.down))
        let bar = "[" + style.green(String(repeating: "#", count: filled)) + String(repeating: ".", count: Self.width - filled) + "]"
        let total = plan.requestsGiven.map { "/\($0)" } ?? ""
        let rate = elapsed > 0 ? Double(succeeded) / elapsed : 0
        let failures = failed == 0 ? "0 failed" : style.red("\(failed) failed")
        return "\(bar) \(succeeded + failed)\(total) requests  " + String(format: "%.1f s  %.2f req/s  ", elapsed, rate) + failures
    }

    /// Redraws the line (a carriage return, the line, erase to the end of the line).
    func draw(_ recorder: BenchRecorder) {
        writeAll(STDERR_FILENO, "\r" + line(recorder) + "\u{1B}[K")
    }

    /// Removes the line, so the report starts on a clean one.
    func clear() {
        writeAll(STDERR_FILENO, "\r\u{1B}[K")
    }
}
