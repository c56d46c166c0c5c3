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
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
    p.arguments = ["-sS", "-N", "-i", "--max-time", String(timeout)] + arguments
    let out = Pipe()
    p.standardOutput = out
    p.standardError = FileHandle.nullDevice
    guard (try? p.run()) != nil else { return CurlResult() }
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    let text = String(decoding: data, as: UTF8.self)
    var result = CurlResult()
    guard let split = text.range(of: "\r\n\r\n") else { return result }
    let head = text[..<split.lowerBound].split(separator: "\r\n")
    result.status = head.first.flatMap { Int($0.split(separator: " ").dropFirst().first ?? "") } ?? 0
    for line in head.dropFirst() {
        if let colon = line.firstIndex(of: ":") {
            result.headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
    }
    result.body = String(text[split.upperBound...])
    return result
}
