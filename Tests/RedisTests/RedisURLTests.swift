import Testing

@testable import Redis

@Suite("REDIS_URL parsing")
struct RedisURLTests {
    @Test(
        "valid URLs",
        arguments: [
            ("redis://localhost", RedisURL(endpoint: .tcp(host: "localhost", port: 6379))),
            ("redis://127.0.0.1:6380", RedisURL(endpoint: .tcp(host: "127.0.0.1", port: 6380))),
            ("REDIS://cache.internal:7000/", RedisURL(endpoint: .tcp(host: "cache.internal", port: 7000))),
            ("redis://10.0.0.5/3", RedisURL(endpoint: .tcp(host: "10.0.0.5", port: 6379), database: 3)),
            ("redis://:secret@h:1/15", RedisURL(endpoint: .tcp(host: "h", port: 1), password: "secret", database: 15)),
            ("redis://limitd:pw@h", RedisURL(endpoint: .tcp(host: "h", port: 6379), username: "limitd", password: "pw")),
            (
                "redis://:p%40ss%3Aw%2Frd%25@h", RedisURL(endpoint: .tcp(host: "h", port: 6379), password: "p@ss:w/rd%")
            ),
            ("redis://:a@b@h", RedisURL(endpoint: .tcp(host: "h", port: 6379), password: "a@b")),
            ("redis://:@h", RedisURL(endpoint: .tcp(host: "h", port: 6379), password: "")),
            ("redis://[::1]:6390/2", RedisURL(endpoint: .tcp(host: "::1", port: 6390), database: 2)),
            ("redis://[fe80::1]", RedisURL(endpoint: .tcp(host: "fe80::1", port: 6379))),
            ("unix:///run/redis/redis.sock", RedisURL(endpoint: .unix(path: "/run/redis/redis.sock"))),
            ("unix:///tmp/r.sock?db=4", RedisURL(endpoint: .unix(path: "/tmp/r.sock"), database: 4)),
            (
                "unix://:secret@/tmp/r.sock?db=1",
                RedisURL(endpoint: .unix(path: "/tmp/r.sock"), password: "secret", database: 1)
            ),
            ("unix://u:p@/tmp/r.sock", RedisURL(endpoint: .unix(path: "/tmp/r.sock"), username: "u", password: "p")),
            ("unix:///tmp/with%20space.sock", RedisURL(endpoint: .unix(path: "/tmp/with space.sock"))),
        ])
    func valid(text: String, expected: RedisURL) throws {
        #expect(try RedisURL(parsing: text) == expected)
    }

    @Test(
        "invalid URLs: an error naming the part that is wrong",
        arguments: [
            ("", RedisURLError.Code.empty, "empty"),
            ("localhost:6379", .scheme, "no scheme"),
            ("http://localhost", .scheme, "'http://'"),
            ("rediss://localhost:6380", .tlsUnsupported, "TLS"),
            ("redis://", .host, "host is missing"),
            ("redis://:6379", .host, "host is missing"),
            ("redis://my host", .host, "' '"),
            ("redis://h:0", .port, "'0'"),
            ("redis://h:65536", .port, "'65536'"),
            ("redis://h:abc", .port, "'abc'"),
            ("redis://h:", .port, "''"),
            ("redis://h/x", .database, "'x'"),
            ("redis://h/-1", .database, "'-1'"),
            ("redis://h/1/2", .database, "'1/2'"),
            ("redis://h?db=2", .query, "'db'"),
            ("redis://h#frag", .query, "fragment"),
            ("redis://user@h", .userInfo, "no ':'"),
            ("redis://:pa/ss@h", .userInfo, "%2F"),
            ("redis://:bad%zz@h", .userInfo, "hex"),
            ("redis://[::1", .host, "']'"),
            ("redis://[nothex]", .host, "IPv6"),
            ("unix://", .socketPath, "missing"),
            ("unix://localhost/tmp/r.sock", .host, "no host"),
            ("unix:///tmp/", .socketPath, "directory"),
            ("unix:///tmp/r.sock?db=x", .database, "'x'"),
            ("unix:///tmp/r.sock?db=1&db=2", .database, "twice"),
            ("unix:///tmp/r.sock?password=x", .query, "'password'"),
            ("unix:///" + String(repeating: "a", count: 120), .socketPath, "at most 107"),
        ])
    func invalid(text: String, code: RedisURLError.Code, mention: String) {
        do {
            let url = try RedisURL(parsing: text)
            Issue.record("\(text) parsed as \(url)")
        } catch {
            #expect(error.code == code, "\(text): \(error)")
            #expect(error.message.contains(mention), "\(text): \(error.message)")
        }
    }

    @Test("errors and descriptions never show the password")
    func redaction() throws {
        let url = try RedisURL(parsing: "redis://limitd:hunter2@h:7000/3")
        #expect(url.description == "redis://limitd:***@h:7000/3")
        #expect(try RedisURL(parsing: "unix://:hunter2@/tmp/r.sock?db=2").description == "unix://:***@/tmp/r.sock?db=2")
        for text in ["redis://hunter2@h", "redis://:hunter2@h:bad", "redis://:hunter2@h/x", "rediss://:hunter2@h", "hunter2@h"] {
            do {
                _ = try RedisURL(parsing: text)
                Issue.record("\(text) parsed")
            } catch {
                #expect(!error.description.contains("hunter2"), "\(error)")
            }
        }
    }

    @Test("a configuration can be made from the URL's text")
    func configuration() throws {
        let configuration = try RedisConfiguration(url: "redis://h:1/2")
        #expect(configuration.url.endpoint == .tcp(host: "h", port: 1))
        #expect(configuration.url.database == 2)
        #expect(throws: RedisURLError.self) { try RedisConfiguration(url: "rediss://h") }
    }
}

@Suite("Login commands from the URL")
struct RedisLoginTests {
    @Test("AUTH with user and password, SELECT, CLIENT SETNAME, in that order, in one request")
    func everything() throws {
        let url = try RedisURL(parsing: "redis://limitd:hunter2@h/3")
        let login = RedisLogin(url: url, clientName: "limitd-7")
        #expect(login.replyCount == 3)
        #expect(
            login.request
                == RedisCommand("AUTH", "limitd", "hunter2").encoded + RedisCommand("SELECT", 3).encoded
                + RedisCommand("CLIENT", "SETNAME", "limitd-7").encoded)
    }

    @Test("nothing to run for a URL without password or database")
    func nothing() throws {
        let login = RedisLogin(url: try RedisURL(parsing: "redis://h"), clientName: nil)
        #expect(login.replyCount == 0)
        #expect(login.request.isEmpty)
    }

    @Test("a refused step is a handshake error naming the step and the server's message, never the password")
    func refused() throws {
        let login = RedisLogin(url: try RedisURL(parsing: "redis://:hunter2@h/20"), clientName: nil)
        #expect(login.request == RedisCommand("AUTH", "hunter2").encoded + RedisCommand("SELECT", 20).encoded)
        do {
            try login.check([.simpleString("OK"), .error("ERR DB index is out of range")], endpoint: "h:6379")
            Issue.record("an error reply passed the check")
        } catch {
            #expect(error.code == .handshakeFailed)
            #expect(error.message == "SELECT 20 refused by h:6379: ERR DB index is out of range")
        }
        do {
            try login.check([.error("WRONGPASS invalid username-password pair or user is disabled.")], endpoint: "h:6379")
            Issue.record("an error reply passed the check")
        } catch {
            #expect(error.message.hasPrefix("AUTH refused by h:6379: WRONGPASS"))
            #expect(!error.message.contains("hunter2"))
        }
    }
}
