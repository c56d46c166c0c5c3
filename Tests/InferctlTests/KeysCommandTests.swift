import Foundation
import Glibc
import IPC
import Testing
import TestKit

@testable import inferctl
import APIKeys
import Spawn
import Crypto

/// `inferctl keys create/list/revoke`, run as the built binary on real files.
@Suite("inferctl keys")
struct KeysCommandTests {
    @Test("create prints a new key once on stdout and stores only its hash, 0600; list shows no secret; revoke removes by name or id")
    func createListRevoke() throws {
        let directory = try TemporaryDirectory()
        let file = directory.path + "/keys.json"
        let first = try runInferctl(["keys", "create", "ci", "--scopes", "infer,embed", "--rpm", "600", "--file", file])
        #expect(first.status == 0, "\(first.stderr)")
        let key = first.stdout.trimmingCharacters(in: .newlines)
        #expect(first.stdout == key + "\n", "stdout holds the key alone")
        #expect(key.hasPrefix("sk-infer-") && key.count == 9 + 43)
        #expect(key.dropFirst(9).allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") })
        #expect(first.stderr.contains("only time the key is shown"))

        let second = try runInferctl(["keys", "create", "admin", "--scopes=admin", "--file=\(file)"])
        #expect(second.status == 0, "\(second.stderr)")
        let otherKey = second.stdout.trimmingCharacters(in: .newlines)
        #expect(otherKey != key)

        // The file: hashes only, mode 0600, and what frontd reads back.
        let text = try String(contentsOfFile: file, encoding: .utf8)
        #expect(!text.contains(key) && !text.contains(otherKey))
        var info = stat()
        #expect(stat(file, &info) == 0 && info.st_mode & 0o777 == 0o600, "mode \(String(info.st_mode & 0o777, radix: 8))")
        let stored = try APIKeyFile.load(path: file)
        #expect(stored.keys.map(\.name) == ["ci", "admin"])
        #expect(stored.keys[0].digest == SHA256.hash(Array(key.utf8)))
        #expect(stored.keys[0].scopes == [.infer, .embed] && stored.keys[0].requestsPerMinute == 600)
        #expect(stored.keys[1].scopes == [.admin] && stored.keys[1].requestsPerMinute == 0)
        #expect(stored.keys[0].id != stored.keys[1].id && APIKeyEntry.isValidID(stored.keys[0].id))

        // list: names, ids, scopes, limits; never a key or a hash.
        let list = try runInferctl(["keys", "list", "--file", file])
        #expect(list.status == 0)
        #expect(list.stdout.contains("ci") && list.stdout.contains(stored.keys[0].id) && list.stdout.contains("infer,embed")
                && list.stdout.contains("600") && list.stdout.contains("default"))
        let json = try runInferctl(["keys", "list", "--json", "--file", file])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let listed = try #require(object["keys"] as? [[String: Any]])
        #expect(listed.map { $0["name"] as? String } == ["ci", "admin"])
        #expect(listed.first?["scopes"] as? [String] == ["infer", "embed"])
        for output in [list.stdout, json.stdout] {
            #expect(!output.contains(key) && !output.contains(stored.keys[0].sha256))
        }

        // API_KEYS_FILE is the default file.
        let fromEnvironment = try runInferctl(["keys", "list"], environment: ["PATH": "/usr/bin:/bin", "API_KEYS_FILE": file])
        #expect(fromEnvironment.stdout.contains(stored.keys[1].id))

        // revoke by name, then by id.
        #expect(try runInferctl(["keys", "revoke", "ci", "--file", file]).status == 0)
        #expect(try APIKeyFile.load(path: file).keys.map(\.name) == ["admin"])
        #expect(try runInferctl(["keys", "revoke", stored.keys[1].id, "--file", file]).status == 0)
        #expect(try APIKeyFile.load(path: file).keys.isEmpty)
        let again = try runInferctl(["keys", "revoke", "ci", "--file", file])
        #expect(again.status == 1 && again.stderr.contains("no key is named \"ci\""))
    }

    @Test("Refusals: a name already used (1), unknown scope, bad rpm, bad name, missing --scopes (64), a malformed file (78 naming it)")
    func refusals() throws {
        let directory = try TemporaryDirectory()
        let file = directory.path + "/keys.json"
        #expect(try runInferctl(["keys", "create", "dev", "--scopes", "infer", "--file", file]).status == 0)
        let before = try String(contentsOfFile: file, encoding: .utf8)

        let duplicate = try runInferctl(["keys", "create", "dev", "--scopes", "embed", "--file", file])
        #expect(duplicate.status == 1 && duplicate.stderr.contains("a key named \"dev\" already exists"), "\(duplicate.stderr)")
        #expect(duplicate.stdout.isEmpty, "no key is printed when none was stored")
        for (arguments, message) in [
            (["--scopes", "infer,inferr"], "unknown scope \"inferr\""),
            (["--scopes", "infer", "--rpm", "-1"], "--rpm -1"),
            (["--scopes", "infer", "--rpm", "1000001"], "--rpm 1000001"),
            (["--scopes", "infer", "--rpm", "ten"], "--rpm ten"),
            ([], "needs --scopes"),
            (["--scopes", "infer", "--colour", "red"], "unknown option --colour"),
        ] {
            let result = try runInferctl(["keys", "create", "other"] + arguments + ["--file", file])
            #expect(result.status == 64 && result.stderr.contains(message), "\(arguments): \(result.stderr)")
        }
        let badName = try runInferctl(["keys", "create", "bad name!", "--scopes", "infer", "--file", file])
        #expect(badName.status == 64 && badName.stderr.contains("key name \"bad name!\""))
        #expect(try String(contentsOfFile: file, encoding: .utf8) == before, "refusals leave the file as it was")

        try Data(#"{"keys": [{"name": "x"}]}"#.utf8).write(to: URL(fileURLWithPath: file))
        let malformed = try runInferctl(["keys", "create", "y", "--scopes", "infer", "--file", file])
        #expect(malformed.status == 78 && malformed.stderr.contains(file) && malformed.stderr.contains("field \"id\""), "\(malformed.stderr)")
        let listed = try runInferctl(["keys", "list", "--file", file])
        #expect(listed.status == 78 && listed.stderr.contains(file))

        let nowhere = try runInferctl(["keys", "create", "z", "--scopes", "infer", "--file", directory.path + "/missing/keys.json"])
        #expect(nowhere.status == 71 && nowhere.stderr.contains("missing"), "\(nowhere.stderr)")
    }

    @Test("Concurrent creates lose nothing (the directory is locked while the file is rewritten)")
    func concurrentCreates() throws {
        let directory = try TemporaryDirectory()
        let file = directory.path + "/keys.json"
        let children = try (0..<8).map { n in
            try ProcessSpawner.spawn(builtProduct("inferctl"), arguments: ["keys", "create", "k\(n)", "--scopes", "infer", "--file", file],
                                     environment: ["PATH": "/usr/bin:/bin"], standardOutput: .null, standardError: .null)
        }
        for child in children {
            guard case .exited(0)? = child.wait(timeout: .seconds(30)) else {
                Issue.record("a keys create failed")
                continue
            }
        }
        #expect(Set(try APIKeyFile.load(path: file).keys.map(\.name)) == Set((0..<8).map { "k\($0)" }))
        // No temporary file is left behind.
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["keys.json"])
    }

    @Test("A replaced file keeps its group and group-read bit, never more")
    func replacedFileKeepsGroup() throws {
        let directory = try TemporaryDirectory()
        let file = directory.path + "/keys.json"
        #expect(try runInferctl(["keys", "create", "a", "--scopes", "infer", "--file", file]).status == 0)
        #expect(chmod(file, 0o664) == 0)
        #expect(try runInferctl(["keys", "create", "b", "--scopes", "infer", "--file", file]).status == 0)
        var info = stat()
        #expect(stat(file, &info) == 0 && info.st_mode & 0o777 == 0o640, "mode \(String(info.st_mode & 0o777, radix: 8))")
    }

    @Test("The command line: subcommands, flags, --help")
    func commandLine() throws {
        #expect(try InferctlCommand.parse(["keys", "create", "ci", "--scopes", "infer,embed", "--rpm", "5", "--file", "k.json"])
            == .keys(KeysOptions(action: .create(name: "ci", scopes: [.infer, .embed],
                                                 settings: KeySettings(requestsPerMinute: 5, scopes: [.infer, .embed])), file: "k.json")))
        #expect(try InferctlCommand.parse(["keys", "create", "ro", "--scopes", "none"])
            == .keys(KeysOptions(action: .create(name: "ro", scopes: [], settings: KeySettings(scopes: [])), file: nil)))
        #expect(try InferctlCommand.parse(["keys", "list", "--json"]) == .keys(KeysOptions(action: .list(json: true, runtimeDirectory: nil), file: nil)))
        #expect(try InferctlCommand.parse(["keys", "revoke", "key_1"]) == .keys(KeysOptions(action: .revoke(nameOrID: "key_1"), file: nil)))
        #expect(try InferctlCommand.parse(["keys", "create", "--help"]) == .help(topic: "keys"))
        #expect(try InferctlCommand.parse(["help", "keys"]) == .help(topic: "keys"))
        #expect(HelpText.text(for: "keys").contains("--scopes SCOPES"))
        #expect(HelpText.text(for: nil).contains("inferctl keys"))
        for (arguments, message) in [(["keys"], "needs a subcommand"), (["keys", "rotate"], "unknown keys subcommand"),
                                     (["keys", "revoke"], "needs a NAME|ID"), (["keys", "list", "extra"], "unexpected argument")] {
            do {
                _ = try InferctlCommand.parse(arguments)
                Issue.record("\(arguments) parsed")
            } catch {
                #expect(error.kind == .usage && error.description.contains(message), "\(arguments): \(error.description)")
            }
        }
        #expect(KeysCommand.resolveFile(nil, environment: [:], currentDirectory: "/srv") == "/etc/infer/keys.json")
        #expect(KeysCommand.resolveFile("k.json", environment: ["API_KEYS_FILE": "/x.json"], currentDirectory: "/srv") == "/srv/k.json")
        #expect(KeysCommand.resolveFile(nil, environment: ["API_KEYS_FILE": "/x.json"], currentDirectory: "/srv") == "/x.json")
    }
}
