import Foundation

/// The certificates TLS connections to an upstream are verified against, and the start-up check that a
/// configured CA file is among them.
///
/// FoundationNetworking on Linux runs on libcurl with OpenSSL and verifies with libcurl's built-in CA
/// bundle and directory (Debian: `/etc/ssl/certs/ca-certificates.crt` and `/etc/ssl/certs`). It offers
/// no per-session or per-process way to add a CA: the `URLSessionCertificateAuthorityInfoFile`
/// variable is read on Android only, and no server-trust challenge reaches a delegate. So a private CA
/// must be in that store, either for the whole machine (`update-ca-certificates`) or for one service
/// (systemd `BindReadOnlyPaths=` of a bundle that adds it over the system one). This type checks that,
/// so a missing CA stops the daemon at start with a clear message instead of failing every request.
public struct UpstreamTrustStore: Sendable, Equatable {
    /// The bundle file (PEM) libcurl loads.
    public let bundlePath: String
    /// The directory of PEM files libcurl also searches, if any.
    public let directoryPath: String?

    /// Where libcurl's bundle is looked for, in the order FoundationNetworking tries them.
    public static let bundleCandidates = [
        "/etc/ssl/certs/ca-certificates.crt",
        "/etc/pki/tls/certs/ca-bundle.crt",
        "/usr/share/ssl/certs/ca-bundle.crt",
        "/usr/local/share/certs/ca-root-nss.crt",
        "/etc/ssl/cert.pem",
    ]

    /// The store of this machine: the first bundle that exists (Debian's when none does, so the check
    /// then fails naming it), and `/etc/ssl/certs` as the directory.
    public static var system: UpstreamTrustStore {
        let bundle = bundleCandidates.first { FileManager.default.fileExists(atPath: $0) } ?? bundleCandidates[0]
        return UpstreamTrustStore(bundlePath: bundle, directoryPath: "/etc/ssl/certs")
    }

    /// A store at the given places (tests use their own).
    public init(bundlePath: String, directoryPath: String? = nil) {
        self.bundlePath = bundlePath
        self.directoryPath = directoryPath
    }

    /// Checks that every certificate in `caFile` is trusted by this store.
    /// - Parameter caFile: a PEM file of one or more CA certificates.
    /// - Throws: ``UpstreamConfigurationError`` (setting `CA file`) when the file cannot be read, holds
    ///   no certificate, or holds one the store lacks; the message says how to add it.
    public func check(caFile: String) throws(UpstreamConfigurationError) {
        let wanted: [String]
        do {
            wanted = Self.certificates(inPEM: try String(contentsOfFile: caFile, encoding: .utf8))
        } catch {
            throw UpstreamConfigurationError("CA file", "\(caFile) cannot be read: \(Self.reason(error))")
        }
        guard !wanted.isEmpty else {
            throw UpstreamConfigurationError("CA file", "\(caFile) holds no PEM certificate")
        }
        var trusted = Set<String>()
        if let bundle = try? String(contentsOfFile: bundlePath, encoding: .utf8) {
            trusted.formUnion(Self.certificates(inPEM: bundle))
        }
        if wanted.contains(where: { !trusted.contains($0) }), let directoryPath {
            trusted.formUnion(certificates(inDirectory: directoryPath))
        }
        let missing = wanted.filter { !trusted.contains($0) }.count
        guard missing == 0 else {
            throw UpstreamConfigurationError(
                "CA file",
                "\(missing) of the \(wanted.count) certificate(s) in \(caFile) are not in the trust store "
                    + "that FoundationNetworking uses (\(bundlePath)), so the upstream's certificate would be refused; "
                    + "add the CA to the machine (copy it to /usr/local/share/ca-certificates/NAME.crt and run "
                    + "update-ca-certificates) or to this service only (systemd BindReadOnlyPaths=BUNDLE:\(bundlePath) "
                    + "with BUNDLE the system bundle plus this CA)")
        }
    }

    /// The base64 bodies of the `CERTIFICATE` blocks of a PEM text, whitespace removed, so the same
    /// certificate compares equal however its lines were wrapped.
    static func certificates(inPEM text: String) -> [String] {
        let begin = "-----BEGIN CERTIFICATE-----"
        let end = "-----END CERTIFICATE-----"
        var result: [String] = []
        var rest = text[...]
        while let start = rest.range(of: begin), let stop = rest.range(of: end, range: start.upperBound..<rest.endIndex) {
            let body = rest[start.upperBound..<stop.lowerBound].filter { !$0.isWhitespace }
            if !body.isEmpty { result.append(String(body)) }
            rest = rest[stop.upperBound...]
        }
        return result
    }

    private func certificates(inDirectory path: String) -> Set<String> {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: path) else { return [] }
        var found = Set<String>()
        for name in names where name.hasSuffix(".pem") || name.hasSuffix(".crt") || name.hasSuffix(".0") {
            if let text = try? String(contentsOfFile: path + "/" + name, encoding: .utf8) {
                found.formUnion(Self.certificates(inPEM: text))
            }
        }
        return found
    }

    private static func reason(_ error: any Error) -> String {
        let nsError = error as NSError
        if let underlying = nsError.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain,
            let text = strerror(Int32(underlying.code))
        {
            return String(cString: text)
        }
        return nsError.localizedDescription
    }
}
