import Foundation
import Glibc
import Testing

@testable import APIKeys
import Basics
import Crypto
import TestKit

/// The keys file: parsing, what it refuses (naming the file, entry and field), writing and reading back.
@Suite("API keys file")
struct APIKeyFileTests {
    static let hashA = String(repeating: "ab", count: 32)
    static let hashB = String(repeating: "cd", count: 32)

    static func document(_ entries: String...) -> [UInt8] {
        Array("{\"keys\": [\(entries.joined(separator: ","))]}".utf8)
    }

    static func entry(name: String = "ci", id: String = "key_1", sha256: String = hashA, extra: String = "",
                      scopes: String = #"["infer","embed"]"#) -> String {
        #"{"name": "\#(name)", "id": "\#(id)", "sha256": "\#(sha256)", "scopes": \#(scopes)\#(extra)}"#
    }

    @Test("A valid file: every field, optional ones defaulted, scopes as a set, hex in either case")
    func parsesValidFile() throws {
        let file = try APIKeyFile.decode(Self.document(
            Self.entry(extra: #", "requests_per_minute": 600, "created": 1763900000"#),
            Self.entry(name: "ops.admin", id: "key_2", sha256: Self.hashB.uppercased(), scopes: #"["admin", "admin"]"#),
            Self.entry(name: "reader", id: "key_3", sha256: String(repeating: "01", count: 32), scopes: "[]")), file: "/k.json")
        #expect(file.keys.count == 3)
        #expect(file.keys[0] == APIKeyEntry(name: "ci", id: "key_1", digest: [UInt8](repeating: 0xab, count: 32),
                                            scopes: [.infer, .embed], requestsPerMinute: 600, created: 1_763_900_000))
        #expect(file.keys[1].digest == [UInt8](repeating: 0xcd, count: 32) && file.keys[1].scopes == [.admin])
        #expect(file.keys[1].requestsPerMinute == 0 && file.keys[1].created == nil)
        #expect(file.keys[2].scopes.isEmpty)
        #expect(file.index(ofNameOrID: "reader") == 2 && file.index(ofNameOrID: "key_2") == 1 && file.index(ofNameOrID: "x") == nil)
        #expect(try APIKeyFile.decode(Array(#"{"keys": []}"#.utf8), file: "/k.json").keys.isEmpty)
    }

    @Test("A malformed file is refused with a message naming the file, the entry and the field", arguments: [
        ("{", "/k.json: not valid JSON"),
        ("[]", "/k.json: expected an object"),
        ("{}", "/k.json: field \"keys\" is missing"),
        (#"{"keys": {}}"#, "field \"keys\": expected an array, got an object"),
        (#"{"keys": [], "extra": 1}"#, "unknown field \"extra\""),
        (#"{"keys": [1]}"#, "entry 1: expected an object, got a number (1)"),
        (#"{"keys": [{"name": "ci", "id": "key_1", "sha256": "\#(hashA)"}]}"#, "key \"ci\" (entry 1), field \"scopes\": missing"),
        (#"{"keys": [{"name": "ci", "sha256": "\#(hashA)", "scopes": []}]}"#, "key \"ci\" (entry 1), field \"id\": missing"),
        (#"{"keys": [{"name": 7, "id": "k", "sha256": "\#(hashA)", "scopes": []}]}"#, "entry 1, field \"name\": expected a string, got a number (7)"),
        (#"{"keys": [{"name": "bad name", "id": "k", "sha256": "\#(hashA)", "scopes": []}]}"#, "field \"name\": expected 1 to 64"),
        (#"{"keys": [{"name": "ci", "id": "k/1", "sha256": "\#(hashA)", "scopes": []}]}"#, "field \"id\": expected 1 to 64"),
        (#"{"keys": [{"name": "ci", "id": "k", "sha256": "abc", "scopes": []}]}"#, "key \"ci\" (entry 1), field \"sha256\": expected the key's SHA-256 as 64 hex digits"),
        (#"{"keys": [{"name": "ci", "id": "k", "sha256": "\#(String(repeating: "zz", count: 32))", "scopes": []}]}"#, "field \"sha256\": expected"),
        (#"{"keys": [{"name": "ci", "id": "k", "sha256": "\#(hashA)", "scopes": ["infer", "inferr"]}]}"#, "field \"scopes\": unknown scope \"inferr\"; expected infer, embed or admin"),
        (#"{"keys": [{"name": "ci", "id": "k", "sha256": "\#(hashA)", "scopes": "infer"}]}"#, "field \"scopes\": expected an array"),
        (#"{"keys": [{"name": "ci", "id": "k", "sha256": "\#(hashA)", "scopes": [], "requests_per_minute": -1}]}"#, "field \"requests_per_minute\": expected an integer between 0 and 1000000, got a number (-1)"),
        (#"{"keys": [{"name": "ci", "id": "k", "sha256": "\#(hashA)", "scopes": [], "requests_per_minute": 1.5}]}"#, "field \"requests_per_minute\""),
        (#"{"keys": [{"name": "ci", "id": "k", "sha256": "\#(hashA)", "scopes": [], "requests_per_minute": "60"}]}"#, "got a string (\"60\")"),
        (#"{"keys": [{"name": "ci", "id": "k", "sha256": "\#(hashA)", "scopes": [], "requests_per_minut": 60}]}"#, "key \"ci\" (entry 1): unknown field \"requests_per_minut\""),
        (#"{"keys": [{"name": "ci", "id": "k", "sha256": "\#(hashA)", "scopes": [], "created": true}]}"#, "field \"created\""),
        (#"{"keys": [{"name": "ci", "id": "k", "sha256": "\#(hashA)", "scopes": [], "budget_duration": "2w"}]}"#, "field \"budget_duration\": expected 1h, 1d, 7d, 30d or 1mo"),
        (#"{"keys": [{"name": "ci", "id": "k", "sha256": "\#(hashA)", "scopes": [], "max_budget": -1}]}"#, "field \"max_budget\": expected USD"),
        (#"{"keys": [{"name": "ci", "id": "k", "sha256": "\#(hashA)", "scopes": [], "tokens_per_minute": 3000000000}]}"#, "field \"tokens_per_minute\": expected an integer between 0 and 2000000000"),
        (#"{"keys": [{"name": "ci", "id": "k", "sha256": "\#(hashA)", "scopes": [], "models": "m"}]}"#, "field \"models\": expected an array"),
        (#"{"keys": [{"name": "ci", "id": "k", "sha256": "\#(hashA)", "scopes": [], "model_limits": {"m": {"tpm": 5}}}]}"#, "field \"model_limits\": m: unknown field \"tpm\""),
        (#"{"keys": [{"name": "ci", "id": "k", "sha256": "\#(hashA)", "scopes": [], "model_limits": {"m": {"max_parallel": -2}}}]}"#, "field \"model_limits\": m.max_parallel: expected an integer"),
    ])
    func refusesMalformed(text: String, message: String) {
        do {
            _ = try APIKeyFile.decode(Array(text.utf8), file: "/k.json")
            Issue.record("accepted \(text)")
        } catch {
            #expect(error.kind == .invalid)
            #expect(error.description.hasPrefix("/k.json: "), "\(error.description)")
            #expect(error.description.contains(message), "\(error.description)")
        }
    }

    @Test("Names, ids and hashes are unique; the hash of the default token changeme is refused")
    func refusesDuplicatesAndChangeme() {
        let changeme = SHA256.hex(Array("changeme".utf8))
        for (bytes, message) in [
            (Self.document(Self.entry(), Self.entry(id: "key_2", sha256: Self.hashB)), "key \"ci\" (entry 2), field \"name\": the name is already used by entry 1"),
            (Self.document(Self.entry(), Self.entry(name: "other", sha256: Self.hashB)), "field \"id\": the id \"key_1\" is already used by entry 1"),
            (Self.document(Self.entry(), Self.entry(name: "other", id: "key_2")), "field \"sha256\": the same key hash is already in entry 1"),
            (Self.document(Self.entry(sha256: changeme)), "well-known default token \"changeme\""),
            (Self.document(Self.entry(sha256: changeme.uppercased())), "well-known default token \"changeme\""),
        ] {
            #expect(throws: APIKeyFileError.self) { try APIKeyFile.decode(bytes, file: "/k.json") }
            do {
                _ = try APIKeyFile.decode(bytes, file: "/k.json")
            } catch {
                #expect(error.description.contains(message), "\(error.description)")
            }
        }
    }

    @Test("What is written reads back the same; the file is replaced atomically with mode 0600")
    func roundTrip() throws {
        let scratch = try TemporaryDirectory()
        let directory = scratch.path
        let path = directory + "/keys.json"
        let keys = APIKeyFile(keys: [
            APIKeyEntry(name: "ci", id: "key_0123456789abcdef", digest: APIKeySecret.digest(Array("sk-infer-a".utf8)),
                        scopes: [.embed, .infer], requestsPerMinute: 600, created: 1_763_900_000),
            APIKeyEntry(name: "ro", id: "key_2", digest: APIKeySecret.digest(Array("sk-infer-b".utf8)), scopes: []),
        ])
        try keys.write(to: path)
        #expect(try APIKeyFile.load(path: path) == keys)
        var info = stat()
        #expect(stat(path, &info) == 0 && info.st_mode & 0o777 == 0o600)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.contains(#""scopes": ["infer", "embed"]"#), "scopes in their fixed order: \(text)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["keys.json"])
        // An empty set of keys round-trips too.
        try APIKeyFile().write(to: path)
        #expect(try APIKeyFile.load(path: path).keys.isEmpty)

        // modify: a change refused by the closure writes nothing.
        try keys.write(to: path)
        #expect(throws: APIKeyFileError.self) {
            try APIKeyFile.modify(path: path) { (file: inout APIKeyFile) throws(APIKeyFileError) in
                file.keys.removeAll()
                throw APIKeyFileError(.refused, file: path, "no")
            }
        }
        #expect(try APIKeyFile.load(path: path) == keys)
        // A change that breaks the file's rules is refused before writing.
        #expect(throws: APIKeyFileError.self) {
            try APIKeyFile.modify(path: path) { (file: inout APIKeyFile) throws(APIKeyFileError) in
                file.keys.append(file.keys[0])
            }
        }
        #expect(try APIKeyFile.load(path: path) == keys)
    }

    @Test("Missing, unreadable and unwritable files say which, naming the file")
    func fileErrors() throws {
        let scratch = try TemporaryDirectory()
        let directory = scratch.path
        do {
            _ = try APIKeyFile.load(path: directory + "/none.json")
            Issue.record("loaded a missing file")
        } catch {
            #expect(error.kind == .missing && error.description == "cannot read the API keys file \(directory)/none.json: No such file or directory")
        }
        do {
            _ = try APIKeyFile.load(path: directory)
            Issue.record("loaded a directory")
        } catch {
            #expect(error.kind == .unreadable && error.description.contains("not a regular file"))
        }
        do {
            try APIKeyFile().write(to: directory + "/missing/keys.json")
            Issue.record("wrote into a missing directory")
        } catch {
            #expect(error.kind == .unwritable && error.description.hasPrefix("cannot write the API keys file \(directory)/missing/keys.json"))
        }
    }

    @Test("Generated keys: sk-infer- and 43 base64url characters of 32 random bytes; ids are key_ and 16 hex digits")
    func generatedKeys() {
        let keys = (0..<100).map { _ in APIKeySecret.generate() }
        #expect(Set(keys).count == 100)
        for key in keys {
            #expect(key.hasPrefix("sk-infer-") && key.utf8.count == 9 + 43)
            #expect(key.utf8.dropFirst(9).allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) || $0 == 45 || $0 == 95 })
        }
        let id = APIKeySecret.newID()
        #expect(id.hasPrefix("key_") && id.count == 20 && APIKeyEntry.isValidID(id))
        // RFC 4648 test vectors, base64url without padding.
        #expect(APIKeySecret.base64URL(Array("f".utf8)) == "Zg")
        #expect(APIKeySecret.base64URL(Array("fo".utf8)) == "Zm8")
        #expect(APIKeySecret.base64URL(Array("foo".utf8)) == "Zm9v")
        #expect(APIKeySecret.base64URL(Array("foobar".utf8)) == "Zm9vYmFy")
        #expect(APIKeySecret.base64URL([0xfb, 0xff]) == "-_8")
        #expect(Hex.decode("00fFa0") == [0, 255, 160] && Hex.decode("0g") == nil && Hex.decode("abc") == nil)
    }

    @Test("limits, budget, models, expiry and per-model limits are written and read back")
    func limitsRoundTrip() throws {
        var entry = APIKeyEntry(name: "team", id: "key_t", digest: [UInt8](repeating: 7, count: 32), scopes: [.infer], requestsPerMinute: 60, created: 1_700_000_000)
        entry.requestsPerHour = 1000
        entry.tokensPerMinute = 20_000
        entry.maxParallel = 4
        entry.maxBudget = 12.5
        entry.budgetDuration = BudgetPeriod("1mo")
        entry.models = ["smollm2", "minilm"]
        entry.expires = 1_800_000_000
        entry.modelLimits = ["smollm2": APIKeyLimits(tokensPerMinute: 5000, maxParallel: 2)]
        let file = APIKeyFile(keys: [entry])
        let text = String(decoding: file.encoded(), as: UTF8.self)
        #expect(text.contains(#""max_budget": 12.5, "budget_duration": "1mo", "models": ["smollm2", "minilm"], "expires": 1800000000"#), "\(text)")
        #expect(text.contains(#""model_limits": {"smollm2": {"tokens_per_minute": 5000, "max_parallel": 2}}"#), "\(text)")
        #expect(try APIKeyFile.decode(file.encoded(), file: "/k.json") == file)
        #expect(entry.isExpired(now: 1_800_000_000) && !entry.isExpired(now: 1_799_999_999))
        // A key without them writes none of them.
        let plain = APIKeyFile(keys: [APIKeyEntry(name: "p", id: "key_p", digest: [UInt8](repeating: 8, count: 32), scopes: [])])
        #expect(!String(decoding: plain.encoded(), as: UTF8.self).contains("budget"))
    }
}
