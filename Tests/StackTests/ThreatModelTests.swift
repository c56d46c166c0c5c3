import Foundation
import Glibc
import Testing
import TestKit

/// The claims of docs/SECURITY.md's threat list that no other test shows: what a local user outside the
/// daemons' group can reach, and that a client without a valid key costs the stack no work.
@Suite("threat model: local users and unauthenticated clients", .serialized)
struct ThreatModelTests {
    /// Tries each `ACTION:PATH` (connect to a Unix socket, stream or datagram; read a file; list a directory) and prints a JSON
    /// object: path → "ok" or the errno's name. Debian's python3, which any user may run.
    static let probe = """
        import errno, json, os, socket, sys
        out = {}
        for item in sys.argv[1:]:
            action, path = item.split(":", 1)
            try:
                if action == "connect":
                    try:
                        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); s.connect(path); s.close()
                    except OSError as e:
                        if e.errno != errno.EPROTOTYPE: raise
                        # a datagram socket (inferctl's notify socket, systemd's NOTIFY_SOCKET)
                        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.connect(path); s.close()
                elif action == "read":
                    open(path, "rb").read(1)
                else:
                    os.listdir(path)
                out[path] = "ok"
            except OSError as e:
                out[path] = errno.errorcode.get(e.errno, str(e.errno))
        print(json.dumps(out))
        """

    /// Runs the probe as `nobody` (uid and gid 65534) with no supplementary group but `groups`.
    static func probeAsNobody(_ items: [String], groups: [gid_t] = []) async throws -> [String: String] {
        let groupFlag = groups.isEmpty ? "--clear-groups" : "--groups=" + groups.map(String.init).joined(separator: ",")
        let (_, output) = try await runProgram("/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", groupFlag, "--", "/usr/bin/python3", "-c", probe] + items,
                                               environment: ["PATH": "/usr/bin:/bin"])
        let object = (try? JSONSerialization.jsonObject(with: Data(output.utf8))) as? [String: String]
        return try #require(object, "the probe failed: \(output)")
    }

    /// Every Unix socket directly in `directory`.
    static func sockets(in directory: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted().map { directory + "/" + $0 }.filter { path in
            var info = stat()
            return lstat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFSOCK
        }
    }

    @Test("a local user outside the daemons' group connects to no daemon's socket and reads neither the keys file nor any state directory; given the group, it connects",
          .enabled(if: getuid() == 0, "runs a client as nobody with setpriv, which needs root"),
          .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv") && FileManager.default.isExecutableFile(atPath: "/usr/bin/python3"),
                   "needs setpriv (util-linux) and Debian's python3"))
    func localUserOutsideTheGroup() async throws {
        let run = try StackRun(models: [("smollm2", "chat")], environmentFile: ["WEBHOOK_HMAC_SECRET=whsec-threat-model-0123456789"],
                               realDaemons: true, apiKeys: [.fixed("threat-admin")])
        #expect(run.wait(.seconds(120)) { run.isReady }, "stack not ready: \(run.standardError.suffix(2000))")
        // Only the modes of the sockets, files and state directories themselves may stop the probe: the
        // directories above them are opened to everyone, as /run/infer, /etc/infer and /var/lib/infer are
        // (mkdtemp made the scratch directory 0700, and inferctl up makes the runtime directory and its
        // state/ 0700 when it makes the daemons' state directories inside).
        for directory in [run.directory.path, run.runtimeDirectory, run.runtimeDirectory + "/state"] {
            #expect(chmod(directory, 0o755) == 0, "chmod \(directory)")
        }
        // One webhook event, so frontd's journal exists.
        let port = try #require(run.port("http"))
        #expect(curl(WebhookTests.signed(#"{"id":"evt_threat","type":"ping"}"#, secret: "whsec-threat-model-0123456789",
                                         url: "http://127.0.0.1:\(port)")).status == 202)

        let sockets = Self.sockets(in: run.runtimeDirectory)
        #expect(sockets.count >= 6, "\(sockets)")
        let state = run.runtimeDirectory + "/state"
        let secrets = ["read:" + run.keysFile, "list:" + state + "/limitd", "list:" + state + "/cached", "list:" + state + "/webhooks",
                       "read:" + state + "/webhooks/events.jsonl"]
        let outside = try await Self.probeAsNobody(sockets.map { "connect:" + $0 } + secrets)
        for socket in sockets { #expect(outside[socket] == "EACCES", "nobody connected to \(socket): \(outside[socket] ?? "-")") }
        for item in secrets {
            let path = String(item.split(separator: ":", maxSplits: 1)[1])
            #expect(outside[path] == "EACCES", "nobody could \(item): \(outside[path] ?? "-")")
        }
        // The same user in the sockets' group (systemd's SocketGroup=infer; here the test's own group) connects:
        // the refusal above is the socket's mode, not something else in the way.
        var info = stat()
        #expect(stat(try #require(sockets.first), &info) == 0)
        let member = try await Self.probeAsNobody(sockets.map { "connect:" + $0 }, groups: [info.st_gid])
        for socket in sockets { #expect(member[socket] == "ok", "a group member could not connect to \(socket): \(member[socket] ?? "-")") }
        #expect(run.stop() == 0)
    }

    /// The sum of every sample of `name` in Prometheus text (0 when absent).
    static func total(_ name: String, in text: String, where filter: (Substring) -> Bool = { _ in true }) -> Double {
        text.split(separator: "\n").filter { ($0.hasPrefix(name + "{") || $0.hasPrefix(name + " ")) && filter($0) }
            .compactMap { $0.split(separator: " ").last.flatMap { Double($0) } }.reduce(0, +)
    }

    @Test("a network client without a valid key gets 401 before any work: limitd, cached, batchd and the model are never asked")
    func unauthenticatedClientsCostNothing() throws {
        let run = try StackRun(models: [("smollm2", "chat")], realDaemons: true, apiKeys: [.fixed("threat-admin")])
        #expect(run.wait(.seconds(120)) { run.isReady }, "stack not ready: \(run.standardError.suffix(2000))")
        let url = "http://127.0.0.1:\(try #require(run.port("http")))"
        let metricsURL = "http://127.0.0.1:\(try #require(run.port("metrics-http")))/metrics"
        let body = #"{"model":"smollm2","messages":[{"role":"user","content":"Hi"}],"max_tokens":4}"#
        let credentials: [[String]] = [[], ["-H", "Authorization: Bearer wrong-key"], ["-H", "Authorization: Bearer changeme"],
                                       ["-H", "Authorization: Basic dGhyZWF0OmFkbWlu"], ["-H", "Authorization: Bearer " + String(repeating: "k", count: 5000)]]
        var sent = 0
        for credential in credentials {
            for path in ["/v1/chat/completions", "/v1/completions", "/v1/infer", "/v1/embeddings", "/v1/batch"] {
                let r = curl(credential + ["-H", "Content-Type: application/json", "--data-binary", body, url + path])
                #expect(r.status == 401 && r.headers["www-authenticate"] == "Bearer", "\(path) \(credential): \(r.status)")
                sent += 1
            }
        }
        let metrics = curl([metricsURL])
        #expect(metrics.status == 200)
        #expect(Self.total("infer_http_requests_total", in: metrics.body) { $0.contains(#"status="401""#) } == Double(sent), "\(sent) sent")
        let work = ["infer_limitd_decisions_total", "infer_cached_requests_total", "infer_batchd_requests_total",
                    "infer_modeld_prompt_tokens_total", "infer_modeld_generated_tokens_total"]
        for untouched in work {
            #expect(Self.total(untouched, in: metrics.body) == 0, "\(untouched) moved for requests without a valid key")
        }
        // One request with a valid key moves every one of them: the counters above are the right ones.
        let valid = curl(["-H", "Authorization: Bearer threat-admin", "-H", "Content-Type: application/json", "--data-binary",
                          #"{"model":"smollm2","messages":[{"role":"user","content":"Hi"}],"max_tokens":4,"temperature":0}"#,
                          url + "/v1/chat/completions"])
        #expect(valid.status == 200, "\(valid.body)")
        let after = curl([metricsURL]).body
        for moved in work { #expect(Self.total(moved, in: after) > 0, "\(moved) did not move for a valid request") }
        #expect(run.stop() == 0)
    }
}
