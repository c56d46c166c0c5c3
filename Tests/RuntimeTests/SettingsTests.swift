import DaemonRuntime
import Foundation
import IPC
import Settings
import Testing

/// One table of every kind, used by the parsing tests.
private enum Table {
    enum Backend: String, CaseIterable, Sendable { case memory, redis }

    static let rpm = Setting<Int>(
        name: "RATE_LIMIT_RPM", default: 60, meaning: "Requests per minute per key.", range: 1...1_000_000)
    static let temperature = Setting<Double>(
        name: "DEFAULT_TEMPERATURE", default: 0.7, meaning: "Sampling temperature.", range: 0...2)
    static let metrics = Setting<Bool>(name: "ENABLE_METRICS", default: true, meaning: "Serve metrics.")
    static let flush = Setting<Duration>(
        name: "BATCH_FLUSH_TIMEOUT_MS", default: .milliseconds(10), meaning: "Longest wait to fill a batch.",
        unit: .milliseconds, range: .zero ... .seconds(10))
    static let window = Setting<Duration>(
        name: "RATE_LIMIT_WINDOW_SEC", default: .seconds(60), meaning: "Rate limit window.",
        unit: .seconds, range: .seconds(1) ... .seconds(86_400))
    static let backend = Setting<Backend>(name: "CACHE_BACKEND", default: .memory, meaning: "Cache tier.")
    static let redis = Setting<URL?>(name: "REDIS_URL", meaning: "Redis server.", schemes: ["redis", "rediss"])
    static let upstream = Setting<URL>(
        name: "UPSTREAM_URL", default: URL(fileURLWithPath: "/"), meaning: "Upstream.", schemes: ["http", "https"])
    static let origins = Setting<[String]>(
        name: "CORS_ORIGINS", default: [], meaning: "Allowed origins.",
        itemExpected: "origins such as https://app.example or *",
        isValidItem: { $0 == "*" || $0.hasPrefix("http://") || $0.hasPrefix("https://") })
    static let registry = Setting<String>(
        name: "MODEL_REGISTRY", default: "/etc/infer/models.json", meaning: "Model registry.", path: .absolute)
    static let modelsDirectory = Setting<String>(
        name: "MODELS_DIR", default: "/tmp", meaning: "Models.", path: .existingDirectory)
    static let secret = Setting<String?>(
        name: "WEBHOOK_HMAC_SECRET", meaning: "HMAC key.", secret: true, minimumLength: 16)
    static let level = Setting<LogLevel>.logLevel()

    static let all: [AnySetting] = [
        rpm, temperature, metrics, flush, window, backend, redis, upstream, origins, registry, modelsDirectory,
        secret, level,
    ]
}

@Suite("Settings")
struct SettingsTests {
    @Test("unset and empty variables take the default")
    func defaults() throws {
        let settings = try Settings.load(Table.all, environment: ["RATE_LIMIT_RPM": "", "REDIS_URL": "  "])
        #expect(settings[Table.rpm] == 60)
        #expect(settings[Table.temperature] == 0.7)
        #expect(settings[Table.metrics] == true)
        #expect(settings[Table.flush] == .milliseconds(10))
        #expect(settings[Table.window] == .seconds(60))
        #expect(settings[Table.backend] == .memory)
        #expect(settings[Table.redis] == nil)
        #expect(settings[Table.origins] == [])
        #expect(settings[Table.secret] == nil)
        #expect(settings[Table.level] == .info)
    }

    @Test("good values of every kind", arguments: [
        ("RATE_LIMIT_RPM", "1"), ("RATE_LIMIT_RPM", " 1000000 "), ("RATE_LIMIT_RPM", "+5"),
        ("DEFAULT_TEMPERATURE", "0"), ("DEFAULT_TEMPERATURE", "1.25"), ("DEFAULT_TEMPERATURE", "2"),
        ("ENABLE_METRICS", "true"), ("ENABLE_METRICS", "FALSE"), ("ENABLE_METRICS", "1"), ("ENABLE_METRICS", "0"),
        ("ENABLE_METRICS", "yes"), ("ENABLE_METRICS", "No"), ("ENABLE_METRICS", "on"),
        ("BATCH_FLUSH_TIMEOUT_MS", "0"), ("BATCH_FLUSH_TIMEOUT_MS", "25"), ("BATCH_FLUSH_TIMEOUT_MS", "2.5"),
        ("BATCH_FLUSH_TIMEOUT_MS", "2s"), ("BATCH_FLUSH_TIMEOUT_MS", "250ms"),
        ("RATE_LIMIT_WINDOW_SEC", "1"), ("RATE_LIMIT_WINDOW_SEC", "1m"), ("RATE_LIMIT_WINDOW_SEC", "24h"),
        ("CACHE_BACKEND", "redis"), ("CACHE_BACKEND", "MEMORY"),
        ("REDIS_URL", "redis://localhost:6379/0"), ("REDIS_URL", "rediss://user:pw@cache.example:6380"),
        ("UPSTREAM_URL", "http://127.0.0.1:8000/v1"), ("UPSTREAM_URL", "https://api.example"),
        ("CORS_ORIGINS", "*"), ("CORS_ORIGINS", "https://a.example, http://b.example,"),
        ("MODEL_REGISTRY", "/srv/models.json"), ("MODELS_DIR", "/"),
        ("WEBHOOK_HMAC_SECRET", "0123456789abcdef"),
        ("LOG_LEVEL", "debug"), ("LOG_LEVEL", "WARNING"), ("LOG_LEVEL", "error"),
    ])
    func goodValues(variable: String, value: String) throws {
        _ = try Settings.load(Table.all, environment: [variable: value])
    }

    @Test("parsed values", arguments: [
        ("BATCH_FLUSH_TIMEOUT_MS", "2.5", Duration.microseconds(2500)),
        ("BATCH_FLUSH_TIMEOUT_MS", "2s", Duration.seconds(2)),
        ("RATE_LIMIT_WINDOW_SEC", "1m", Duration.seconds(60)),
        ("RATE_LIMIT_WINDOW_SEC", "90", Duration.seconds(90)),
        ("RATE_LIMIT_WINDOW_SEC", "1500ms", Duration.milliseconds(1500)),
    ])
    func durations(variable: String, value: String, expected: Duration) throws {
        let settings = try Settings.load(Table.all, environment: [variable: value])
        #expect(settings[variable == "BATCH_FLUSH_TIMEOUT_MS" ? Table.flush : Table.window] == expected)
    }

    @Test("typed values come back")
    func typedValues() throws {
        let settings = try Settings.load(Table.all, environment: [
            "RATE_LIMIT_RPM": "120", "CACHE_BACKEND": "Redis", "REDIS_URL": "redis://r:6379",
            "CORS_ORIGINS": " https://a.example ,, * ", "ENABLE_METRICS": "no", "LOG_LEVEL": "warning",
            "WEBHOOK_HMAC_SECRET": "0123456789abcdef0123",
        ])
        #expect(settings[Table.rpm] == 120)
        #expect(settings[Table.backend] == .redis)
        #expect(settings[Table.redis]?.host == "r")
        #expect(settings[Table.origins] == ["https://a.example", "*"])
        #expect(settings[Table.metrics] == false)
        #expect(settings[Table.level] == .warn)
        #expect(settings[Table.secret] == "0123456789abcdef0123")
        #expect(settings.effective.contains { $0.name == "WEBHOOK_HMAC_SECRET" && $0.value == "<hidden>" })
    }

    @Test("bad values of every kind name the variable, the value and what is expected", arguments: [
        ("RATE_LIMIT_RPM", "abc", "RATE_LIMIT_RPM=abc: expected an integer between 1 and 1000000"),
        ("RATE_LIMIT_RPM", "0", "RATE_LIMIT_RPM=0: expected an integer between 1 and 1000000"),
        ("RATE_LIMIT_RPM", "1000001", "RATE_LIMIT_RPM=1000001: expected an integer between 1 and 1000000"),
        ("RATE_LIMIT_RPM", "1.5", "RATE_LIMIT_RPM=1.5: expected an integer"),
        ("RATE_LIMIT_RPM", "99999999999999999999999", "RATE_LIMIT_RPM=99999999999999999999999: expected"),
        ("DEFAULT_TEMPERATURE", "hot", "DEFAULT_TEMPERATURE=hot: expected a number between 0 and 2"),
        ("DEFAULT_TEMPERATURE", "nan", "DEFAULT_TEMPERATURE=nan: expected a number between 0 and 2"),
        ("DEFAULT_TEMPERATURE", "2.5", "DEFAULT_TEMPERATURE=2.5: expected a number between 0 and 2"),
        ("ENABLE_METRICS", "maybe", "ENABLE_METRICS=maybe: expected a boolean (true, false, 1, 0, yes, no)"),
        ("ENABLE_METRICS", "2", "ENABLE_METRICS=2: expected a boolean"),
        ("BATCH_FLUSH_TIMEOUT_MS", "-1", "BATCH_FLUSH_TIMEOUT_MS=-1: expected a duration in milliseconds between 0 and 10000"),
        ("BATCH_FLUSH_TIMEOUT_MS", "11s", "BATCH_FLUSH_TIMEOUT_MS=11s: expected a duration in milliseconds"),
        ("BATCH_FLUSH_TIMEOUT_MS", "10 parsecs", "BATCH_FLUSH_TIMEOUT_MS=\"10 parsecs\": expected a duration"),
        ("BATCH_FLUSH_TIMEOUT_MS", "inf", "BATCH_FLUSH_TIMEOUT_MS=inf: expected a duration"),
        ("BATCH_FLUSH_TIMEOUT_MS", "0x10", "BATCH_FLUSH_TIMEOUT_MS=0x10: expected a duration"),
        ("RATE_LIMIT_WINDOW_SEC", "0", "RATE_LIMIT_WINDOW_SEC=0: expected a duration in seconds between 1 and 86400"),
        ("RATE_LIMIT_WINDOW_SEC", "2d", "RATE_LIMIT_WINDOW_SEC=2d: expected a duration in seconds"),
        ("CACHE_BACKEND", "memcached", "CACHE_BACKEND=memcached: expected one of memory, redis"),
        ("REDIS_URL", "localhost:6379", "REDIS_URL=localhost:6379: expected a URL with scheme redis or rediss and a host"),
        ("REDIS_URL", "http://localhost", "REDIS_URL=http://localhost: expected a URL with scheme redis or rediss"),
        ("UPSTREAM_URL", "https://", "UPSTREAM_URL=https://: expected a URL with scheme http or https and a host"),
        ("CORS_ORIGINS", "https://a.example,ftp://b", "CORS_ORIGINS=https://a.example,ftp://b: expected a comma-separated list of origins such as https://app.example or *"),
        ("MODEL_REGISTRY", "models.json", "MODEL_REGISTRY=models.json: expected an absolute path"),
        ("MODELS_DIR", "/nonexistent/dir", "MODELS_DIR=/nonexistent/dir: expected the absolute path of an existing directory"),
        ("MODELS_DIR", "/etc/hostname", "MODELS_DIR=/etc/hostname: expected the absolute path of an existing directory"),
        ("LOG_LEVEL", "verbose", "LOG_LEVEL=verbose: expected one of debug, info, warn, error"),
        ("RATE_LIMIT_RPM", "1\n2", "RATE_LIMIT_RPM=\"1\\n2\": expected an integer"),
    ])
    func badValues(variable: String, value: String, message: String) {
        do {
            _ = try Settings.load(Table.all, environment: [variable: value])
            Issue.record("\(variable)=\(value) was accepted")
        } catch {
            #expect(error.variables == [variable])
            #expect(error.description.hasPrefix(message), "got: \(error.description)")
            #expect(!error.description.contains("\n"))
        }
    }

    @Test("a secret's value is never echoed")
    func secretHidden() {
        do {
            _ = try Settings.load(Table.all, environment: ["WEBHOOK_HMAC_SECRET": "short-pw"])
            Issue.record("a short secret was accepted")
        } catch {
            #expect(error.description == "WEBHOOK_HMAC_SECRET=<hidden>: expected a secret of at least 16 characters")
            #expect(!error.description.contains("short-pw"))
        }
    }

    @Test("every bad variable is reported at once, one line each, in table order")
    func severalErrors() {
        do {
            _ = try Settings.load(Table.all, environment: ["LOG_LEVEL": "x", "RATE_LIMIT_RPM": "y", "CACHE_BACKEND": "z"])
            Issue.record("accepted")
        } catch {
            #expect(error.variables == ["RATE_LIMIT_RPM", "CACHE_BACKEND", "LOG_LEVEL"])
            #expect(error.description.split(separator: "\n").count == 3)
        }
    }

    @Test("a table that defines a variable twice is refused")
    func duplicates() {
        let again = Setting<Int>(name: "RATE_LIMIT_RPM", default: 1, meaning: "Twice.", range: 1...2)
        #expect(throws: ConfigError.self) { try Settings.load([Table.rpm, again], environment: [:]) }
    }

    @Test("a Setting parses on its own, with the same rules")
    func singleSetting() throws {
        #expect(try Table.rpm.parse(" 42 ") == 42)
        #expect(try Table.rpm.parse("") == 60)
        #expect(throws: ConfigError.self) { try Table.rpm.parse("forty") }
    }

    @Test("the runtime's settings and each daemon's can be read together")
    func runtimeSettings() throws {
        let settings = try Settings.load(RuntimeSettings.common + [RuntimeSettings.port, RuntimeSettings.bindAddress],
                                         environment: ["PORT": "0", "BIND_ADDRESS": "::1", "DRAIN_TIMEOUT_SEC": "2.5"])
        #expect(settings[RuntimeSettings.port] == 0)
        #expect(settings[RuntimeSettings.bindAddress] == "::1")
        #expect(settings[RuntimeSettings.drainTimeout] == .milliseconds(2500))
        #expect(settings[RuntimeSettings.runtimeDirectory] == "/run/infer")
        #expect(throws: ConfigError.self) {
            try Settings.load([RuntimeSettings.bindAddress], environment: ["BIND_ADDRESS": "localhost"])
        }
        #expect(throws: ConfigError.self) {
            try Settings.load([RuntimeSettings.port], environment: ["PORT": "65536"])
        }
    }

    @Test("an https:// OTLP endpoint stops the daemon at start, with a message naming the way to reach one")
    func httpsCollectorRefused() throws {
        for variable in ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] {
            do {
                _ = try Settings.load(TracingSettings.all, environment: [variable: "https://collector.example:4318"])
                Issue.record("\(variable)=https://… was accepted")
            } catch {
                #expect(error.variables == [variable])
                #expect(error.description.contains("expected an http:// URL"), "\(error.description)")
                #expect(error.description.contains("local OpenTelemetry Collector"), "\(error.description)")
            }
        }
        let settings = try Settings.load(TracingSettings.all, environment: ["OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"])
        #expect(settings[TracingSettings.endpoint]?.absoluteString == "http://127.0.0.1:4318")
    }
}

@Suite("Settings help")
struct SettingsHelpTests {
    @Test("text: one aligned row per setting with name, default and meaning")
    func text() {
        let text = SettingsHelp.render([Table.rpm, Table.redis, Table.secret])
        let lines = text.split(separator: "\n")
        #expect(lines.count == 4)
        #expect(lines[0].hasPrefix("NAME"))
        #expect(lines[1].hasPrefix("RATE_LIMIT_RPM"))
        #expect(lines[1].contains(" 60 "))
        #expect(lines[1].contains("Requests per minute per key. Expected: an integer between 1 and 1000000."))
        #expect(lines[2].contains("(unset)"))
        // Columns line up: the defaults start after the longest name and two spaces.
        let column = "WEBHOOK_HMAC_SECRET".count + 2
        #expect(lines[0].dropFirst(column).hasPrefix("DEFAULT"))
        #expect(lines[1].dropFirst(column).hasPrefix("60 "))
        #expect(lines[3].dropFirst(column).hasPrefix("(unset) "))
    }

    @Test("markdown: a table for the docs")
    func markdown() {
        let markdown = SettingsHelp.render([Table.rpm, Table.flush], format: .markdown)
        #expect(markdown.hasPrefix("| variable | default | meaning | accepted values |\n|---|---|---|---|\n"))
        #expect(markdown.contains("| `RATE_LIMIT_RPM` | `60` | Requests per minute per key. | an integer between 1 and 1000000 |"))
        #expect(markdown.contains("| `BATCH_FLUSH_TIMEOUT_MS` | `10` |"))
    }

    @Test("environment file: commented defaults, secrets left empty")
    func environmentFile() {
        let env = SettingsHelp.render([Table.window, Table.secret], format: .environmentFile)
        #expect(env.contains("# Rate limit window.\n# Expected: a duration in seconds between 1 and 86400"))
        #expect(env.contains("#RATE_LIMIT_WINDOW_SEC=60\n"))
        #expect(env.contains("#WEBHOOK_HMAC_SECRET=\n"))
    }
}
