import Foundation

/// `inferctl bench`: the load generator against any OpenAI-compatible endpoint (``BenchRun``), its
/// report for people or as JSON (``BenchReport``), and `bench compare` (``BenchComparison``).
enum BenchCommand {
    /// Runs the command.
    /// - Parameters:
    ///   - options: The command line.
    ///   - environment: inferctl's environment (`INFER_URL`, `INFER_API_KEY`, `NO_COLOR`).
    /// - Returns: 0 when the run had a successful request (or the comparison was printed), 1 when none
    ///   succeeded, 3 when the endpoint cannot be reached.
    static func run(_ options: BenchOptions, environment: [String: String]) -> Int32 {
        switch options {
        case .run(let run):
            return self.run(run, environment: environment)
        case .compare(let first, let second, let json):
            do throws(InferctlError) {
                let comparison = BenchComparison(first: try BenchReport.load(first), second: try BenchReport.load(second))
                writeOut(json ? comparison.renderJSON(firstName: first, secondName: second)
                    : comparison.render(firstName: first, secondName: second,
                                        style: TerminalStyle(descriptor: STDOUT_FILENO, environment: environment)))
                return InferctlExit.success
            } catch {
                return error.reported()
            }
        }
    }

    static func run(_ options: BenchRunOptions, environment: [String: String]) -> Int32 {
        let plan: BenchPlan
        let api: APIClient
        do {
            plan = try BenchPlan(options)
            api = try APIClient(options.client, environment: environment, concurrency: options.concurrency)
        } catch {
            return error.reported()
        }
        if let unreachable = runBlocking({ await api.unreachable(probing: api.path("models")) }) {
            return unreachable.reported()
        }
        let progress = isTerminal(STDERR_FILENO)
            ? ProgressBar(plan: plan, style: TerminalStyle(descriptor: STDERR_FILENO, environment: environment)) : nil
        let started = Date()
        var onProgress: (@Sendable (BenchRecorder) -> Void)?
        if let progress { onProgress = { progress.draw($0) } }
        let report = onProgress
        let recorder = runBlocking { await BenchRun.run(plan, api: api, onProgress: report) }
        progress?.clear()
        let (samples, seconds) = recorder.result
        let summary = BenchReport(plan: plan, url: api.baseURL, samples: samples, seconds: seconds, startedAt: started)
        if let out = options.out {
            guard FileManager.default.createFile(atPath: out, contents: Data(summary.json().utf8)) else {
                return InferctlError.system("--out \(out): cannot be written").reported()
            }
        }
        writeOut(options.client.json ? summary.json() : summary.render(style: TerminalStyle(descriptor: STDOUT_FILENO, environment: environment)))
        return summary.succeeded > 0 ? InferctlExit.success : InferctlExit.failure
    }
}
