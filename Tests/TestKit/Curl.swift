import Foundation

/// One HTTP exchange through curl (a real client): status, headers (lower-cased names), body.
public struct CurlResult: Sendable {
    public var status = 0
    public var headers: [String: String] = [:]
    public var body = ""

    public init(status: Int = 0, headers: [String: String] = [:], body: String = "") {
        self.status = status
        self.headers = headers
        self.body = body
    }
}

/// Runs curl with `arguments` (after `-sS -N -i --max-time timeout`) and splits what it printed.
/// - Returns: The exchange; status 0 when curl could not run or printed no response head.
public func curl(_ arguments: [String], timeout: Int = 60) -> CurlResult {
    curlConcurrently([arguments], timeout: timeout)[0]
}

/// Runs one curl per argument list, all at once (every process started before any is waited for, so
/// the requests really are concurrent), and splits what each printed.
/// - Returns: The exchanges in the lists' order.
public func curlConcurrently(_ argumentLists: [[String]], timeout: Int = 60) -> [CurlResult] {
    let started: [PipedProgram?] = argumentLists.map { arguments in
        try? PipedProgram("/usr/bin/curl", ["-sS", "-N", "-i", "--max-time", String(timeout)] + arguments)
    }
    // Each pipe is drained on its own thread, so no curl blocks on a full pipe while another is read.
    let outputs = SharedValue([[UInt8]](repeating: [], count: started.count))
    DispatchQueue.concurrentPerform(iterations: started.count) { i in
        guard let run = started[i] else { return }
        let bytes = run.readOutput()
        _ = run.finish(timeout: .seconds(timeout + 5))
        outputs.update { $0[i] = bytes }
    }
    return outputs.value.enumerated().map { i, bytes in started[i] == nil ? CurlResult() : CurlResult(output: String(decoding: bytes, as: UTF8.self)) }
}

extension CurlResult {
    /// What `curl -i` printed, split into status, headers and body.
    init(output text: String) {
        self.init()
        guard let split = text.range(of: "\r\n\r\n") else { return }
        let head = text[..<split.lowerBound].split(separator: "\r\n")
        status = head.first.flatMap { Int($0.split(separator: " ").dropFirst().first ?? "") } ?? 0
        for line in head.dropFirst() {
            if let colon = line.firstIndex(of: ":") {
                headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
        }
        body = String(text[split.upperBound...])
    }
}
