import Foundation

/// A throw-away certificate authority and a server certificate it signed (for 127.0.0.1 and
/// localhost), made with the openssl command in a scratch directory; ``issue(_:subjectAltName:)`` signs
/// more (a certificate for another name).
public struct TLSFixture: Sendable {
    private let scratch: TemporaryDirectory
    /// Where the files are.
    public var directory: String { scratch.path }
    /// The CA's certificate (PEM).
    public var caFile: String { directory + "/ca.crt" }
    /// The server certificate for 127.0.0.1 and localhost, and its key (PEM).
    public var certificateFile: String { directory + "/server.crt" }
    public var keyFile: String { directory + "/server.key" }

    /// Whether the openssl command is there (Debian: `apt-get install -y openssl`).
    public static var available: Bool { FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl") }

    /// Makes the CA and the server certificate (EC keys: fast), valid for two days.
    /// - Throws: ``HarnessError`` when openssl fails.
    public static func make() async throws -> TLSFixture {
        let fixture = TLSFixture(scratch: try TemporaryDirectory())
        let script = """
            set -e
            cd "$1"
            openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.crt \
              -days 2 -subj "/CN=infer upstream test CA" \
              -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
            """
        let (status, output) = try await runProgram("/bin/sh", ["-c", script, "sh", fixture.directory])
        guard status == 0 else { throw HarnessError("openssl failed (\(status)): \(output)") }
        _ = try await fixture.issue("server", subjectAltName: "IP:127.0.0.1,DNS:localhost")
        return fixture
    }

    /// Signs a server certificate with this CA.
    /// - Parameters:
    ///   - name: The files' name: `NAME.crt`, `NAME.key`, and `NAME.pem` (both together, as haproxy takes them).
    ///   - subjectAltName: The names it is for (`IP:127.0.0.1,DNS:localhost`).
    /// - Returns: The path of `NAME.pem`.
    /// - Throws: ``HarnessError`` when openssl fails.
    public func issue(_ name: String, subjectAltName: String) async throws -> String {
        let script = """
            set -e
            cd "$1"
            openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$2.key" -out "$2.csr" -subj "/CN=$2"
            printf 'subjectAltName=%s\\nbasicConstraints=CA:FALSE\\nextendedKeyUsage=serverAuth\\n' "$3" > "$2.ext"
            openssl x509 -req -in "$2.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -out "$2.crt" -days 2 -extfile "$2.ext"
            cat "$2.crt" "$2.key" > "$2.pem"
            """
        let (status, output) = try await runProgram("/bin/sh", ["-c", script, "sh", directory, name, subjectAltName])
        guard status == 0 else { throw HarnessError("openssl failed (\(status)): \(output)") }
        return directory + "/" + name + ".pem"
    }

    /// Writes a CA bundle: the system's (`systemBundle`) with this CA added, as an operator makes one.
    /// - Returns: Its path, in the fixture's directory.
    public func bundle(addingTo systemBundle: String) throws -> String {
        let path = directory + "/bundle.pem"
        let system = (try? String(contentsOfFile: systemBundle, encoding: .utf8)) ?? ""
        try (system + "\n" + String(contentsOfFile: caFile, encoding: .utf8)).write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Removes the scratch directory.
    public func remove() {
        scratch.remove()
    }
}
