import Foundation
import FoundationNetworking
import Synchronization

/// One blocking HTTP GET, for the commands that ask a running stack something (`health`, `metrics`,
/// `version`). inferctl's commands are synchronous; this waits for URLSession's answer with a deadline.
enum HTTPFetch {
    /// What came back.
    struct Reply: Sendable {
        let status: Int
        let body: Data
    }

    /// Why there is no reply.
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// GETs `url` with optional headers, waiting at most `timeout`.
    /// - Throws: ``Failure`` when the server cannot be reached or does not answer in time.
    static func get(_ url: URL, headers: [String: String] = [:], timeout: Duration = .seconds(10)) throws(Failure) -> Reply {
        var request = URLRequest(url: url)
        request.timeoutInterval = Double(timeout.components.seconds) + 1
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        let outcome = Mutex<Result<Reply, Failure>?>(nil)
        let done = DispatchSemaphore(value: 0)
        let task = URLSession.shared.dataTask(with: request) { data, response, error in
            let result: Result<Reply, Failure>
            if let error {
                result = .failure(Failure(description: "\(url.absoluteString): \(error.localizedDescription)"))
            } else if let http = response as? HTTPURLResponse {
                result = .success(Reply(status: http.statusCode, body: data ?? Data()))
            } else {
                result = .failure(Failure(description: "\(url.absoluteString): no HTTP answer"))
            }
            outcome.withLock { $0 = result }
            done.signal()
        }
        task.resume()
        let seconds = Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18
        guard done.wait(timeout: .now() + seconds) == .success else {
            task.cancel()
            throw Failure(description: "\(url.absoluteString): no answer within \(Int(seconds)) s")
        }
        switch outcome.withLock({ $0 }) {
        case .success(let reply)?: return reply
        case .failure(let failure)?: throw failure
        case nil: throw Failure(description: "\(url.absoluteString): no answer")
        }
    }

    /// GETs `address` for a command: the reply, or the exit status after saying why there is none (64: not
    /// a URL; 3: not reachable).
    static func command(_ address: String) -> Result<Reply, ExitStatus> {
        guard let url = URL(string: address), url.scheme != nil else {
            FileHandle.standardError.write(Data("inferctl: \(address) is not a URL\n".utf8))
            return .failure(ExitStatus(code: InferctlExit.usage))
        }
        do {
            return .success(try get(url))
        } catch {
            print("not reachable: \(error.description)")
            return .failure(ExitStatus(code: InferctlExit.notRunning))
        }
    }

    /// An exit status as an error, for ``command(_:)``.
    struct ExitStatus: Error {
        let code: Int32
    }

    /// The stack's HTTP origin: `--url` (with or without its `/v1`), else INFER_URL, else
    /// http://127.0.0.1:8080.
    static func origin(_ flag: String?, environment: [String: String]) -> String {
        var text = flag ?? environment["INFER_URL"].flatMap { $0.isEmpty ? nil : $0 } ?? "http://127.0.0.1:8080"
        while text.hasSuffix("/") { text.removeLast() }
        if text.hasSuffix("/v1") { text.removeLast(3) }
        return text
    }
}
