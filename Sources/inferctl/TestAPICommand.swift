import Basics
import Foundation
import Upstream

/// `inferctl test-api`: calls every route of a running stack the way a client would (``APIChecks``)
/// and prints a pass/fail table; exits 1 when a check fails, 3 when the stack cannot be reached.
enum TestAPICommand {
    /// The outcome of one check.
    struct Outcome: Sendable {
        let check: APICheck
        let passed: Bool
        let status: Int?
        let detail: String
        let milliseconds: Double
    }

    /// A key no keys file holds (the check of a wrong key); never a real one's shape or secret.
    static let wrongKey = "sk-infer-test-api-wrong-key"

    /// Runs the command.
    /// - Parameters:
    ///   - options: The command line.
    ///   - environment: inferctl's environment (`INFER_URL`, `INFER_API_KEY`, `NO_COLOR`).
    /// - Returns: 0 when every check passed, 1 when one failed, 3 when the stack cannot be reached.
    static func run(_ options: TestAPIOptions, environment: [String: String]) -> Int32 {
        let context: APICheckContext
        do {
            var wrong = options.client
            wrong.key = wrongKey
            // The cache is bypassed, so each generating check runs the model (a hit would answer at once).
            context = APICheckContext(api: try APIClient(options.client, environment: environment, headers: BenchPlan.cacheBypass),
                                      wrongKeyAPI: try APIClient(wrong, environment: environment),
                                      model: options.model, embeddingModel: options.embeddingModel)
        } catch {
            return error.reported()
        }
        if let unreachable = runBlocking({ await context.api.unreachable(probing: context.api.serverPath("/health")) }) {
            return unreachable.reported()
        }
        let outcomes = runBlocking { await run(APIChecks.all, context: context) }
        let failed = outcomes.filter { !$0.passed }.count
        if options.client.json {
            writeOut(renderJSON(outcomes, url: context.api.baseURL))
        } else {
            writeOut(render(outcomes, url: context.api.baseURL, style: TerminalStyle(descriptor: STDOUT_FILENO, environment: environment)))
        }
        return failed == 0 ? InferctlExit.success : InferctlExit.failure
    }

    /// Runs the checks one after another (so each one's time is its own).
    static func run(_ checks: [APICheck], context: APICheckContext) async -> [Outcome] {
        var outcomes: [Outcome] = []
        for check in checks {
            let started = ContinuousClock.now
            let outcome: (Bool, Int?, String)
            do throws(CheckFailure) {
                let pass = try await check.run(context)
                outcome = (true, pass.status, pass.detail)
            } catch {
                outcome = (false, error.status, error.detail)
            }
            let milliseconds = (ContinuousClock.now - started).seconds * 1000
            outcomes.append(Outcome(check: check, passed: outcome.0, status: outcome.1, detail: outcome.2, milliseconds: milliseconds))
        }
        return outcomes
    }

    /// The table: check, route, PASS or FAIL, status, time, detail; and a summary line.
    static func render(_ outcomes: [Outcome], url: String, style: TerminalStyle) -> String {
        var table = TextTable(["CHECK", "ROUTE", "RESULT", "STATUS", "MS", "DETAIL"], rightAligned: [3, 4])
        for outcome in outcomes {
            table.add([outcome.check.name, outcome.check.route, outcome.passed ? "PASS" : "FAIL",
                       outcome.status.map(String.init) ?? "-", String(format: "%.0f", outcome.milliseconds), outcome.detail])
        }
        let body = table.render(style: style) { row, column, text in
            guard column == 2 else { return text }
            return outcomes[row].passed ? style.green(text) : style.red(text)
        }
        let failed = outcomes.filter { !$0.passed }.count
        let summary = "\(outcomes.count - failed) passed, \(failed) failed against \(url)"
        return body + "\n" + (failed == 0 ? style.green(summary) : style.red(summary)) + "\n"
    }

    /// `{"url", "passed", "failed", "checks": [{"name", "route", "passed", "status", "ms", "detail"}]}`.
    static func renderJSON(_ outcomes: [Outcome], url: String) -> String {
        let checks: [[String: Any]] = outcomes.map { outcome in
            ["name": outcome.check.name, "route": outcome.check.route, "passed": outcome.passed,
             "status": outcome.status.map { $0 as Any } ?? NSNull(), "ms": (outcome.milliseconds * 10).rounded() / 10,
             "detail": outcome.detail]
        }
        let failed = outcomes.filter { !$0.passed }.count
        return prettyJSON(["url": url, "passed": outcomes.count - failed, "failed": failed, "checks": checks])
    }
}

/// A JSON object as indented text with sorted keys, ending with a newline.
func prettyJSON(_ object: [String: Any]) -> String {
    let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .prettyPrinted])) ?? Data("{}".utf8)
    return String(decoding: data, as: UTF8.self) + "\n"
}
