import Foundation
import TestKit

/// A throw-away certificate authority and a server certificate it signed (for 127.0.0.1 and
/// localhost), made with the openssl command in a scratch directory.
struct TLSFixture: Sendable {
    private let scratch: TemporaryDirectory
    /// Where the files are.
    var directory: String { scratch.path }
    var caFile: String { directory + "/ca.crt" }
    var certificateFile: String { directory + "/server.crt" }
    var keyFile: String { directory + "/server.key" }

    /// Whether the openssl command is there (Debian: `apt-get install -y openssl`).
    static var available: Bool { FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl") }

    /// Makes the CA and the server certificate (EC keys: fast), valid for two days.
    static func make() async throws -> TLSFixture {
        let scratch = try TemporaryDirectory()
        let script = """
            set -e
            cd "$1"
            openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.crt \
              -days 2 -subj "/CN=infer upstream test CA" \
              -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
            openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout server.key -out server.csr \
              -subj "/CN=localhost"
            printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\nbasicConstraints=CA:FALSE\\nextendedKeyUsage=serverAuth\\n' > ext.cnf
            openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 2 -extfile ext.cnf
            """
        let (status, output) = try await run("/bin/sh", ["-c", script, "sh", scratch.path])
        guard status == 0 else { throw ScriptedUpstreamError(message: "openssl failed (\(status)): \(output)") }
        return TLSFixture(scratch: scratch)
    }

    /// Removes the scratch directory.
    func remove() {
        scratch.remove()
    }
}

/// Runs a program to its end on a thread of its own; returns its exit status and its output
/// (stdout and stderr together).
func run(_ program: String, _ arguments: [String], environment: [String: String]? = nil) async throws -> (Int32, String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: program)
    process.arguments = arguments
    if let environment { process.environment = environment }
    let output = Pipe()
    process.standardOutput = output
    process.standardError = output
    process.standardInput = FileHandle.nullDevice
    try process.run()
    let handle = output.fileHandleForReading
    return await withCheckedContinuation { continuation in
        Thread.detachNewThread {
            let data = handle.readDataToEndOfFile()
            process.waitUntilExit()
            continuation.resume(returning: (process.terminationStatus, String(decoding: data, as: UTF8.self)))
        }
    }
}
