import Foundation

/// `inferctl health`: frontd's readiness (`GET /health/ready`): each dependency, each breaker, and the
/// verdict. Exits 0 when ready, 1 when not, 3 when frontd cannot be reached.
enum HealthCommand {
    static func run(_ options: ClientOptions, environment: [String: String]) -> Int32 {
        let origin = HTTPFetch.origin(options.url, environment: environment)
        let reply: HTTPFetch.Reply
        switch HTTPFetch.command(origin + "/health/ready") {
        case .success(let answer): reply = answer
        case .failure(let exit): return exit.code
        }
        let object = (try? JSONSerialization.jsonObject(with: reply.body)) as? [String: Any] ?? [:]
        if options.json {
            FileHandle.standardOutput.write(reply.body)
            print()
        } else {
            print(render(object, status: reply.status, origin: origin), terminator: "")
        }
        return reply.status == 200 ? InferctlExit.success : InferctlExit.failure
    }

    /// The readable answer: the verdict, then dependencies and breakers, one per line.
    static func render(_ object: [String: Any], status: Int, origin: String) -> String {
        let verdict = object["status"] as? String ?? (status == 200 ? "ready" : "not ready")
        var out = "\(origin): \(verdict) (HTTP \(status))\n"
        let dependencies = object["dependencies"] as? [String: String] ?? [:]
        if !dependencies.isEmpty {
            out += Table(["DEPENDENCY", "STATE"], dependencies.keys.sorted().map { [$0, dependencies[$0] ?? "?"] }).text
        }
        let breakers = object["breakers"] as? [String: String] ?? [:]
        if !breakers.isEmpty {
            out += Table(["MODEL/DEPLOYMENT", "BREAKER"], breakers.keys.sorted().map { [$0, breakers[$0] ?? "?"] }).text
        }
        return out
    }
}

/// A plain-text table: columns padded to their widest cell, two spaces apart, the last one unpadded.
struct Table {
    let header: [String]
    let rows: [[String]]

    init(_ header: [String], _ rows: [[String]]) {
        self.header = header
        self.rows = rows
    }

    var text: String {
        var table = TextTable(header)
        table.rows = rows
        return table.render(style: TerminalStyle(colour: false))
    }
}
