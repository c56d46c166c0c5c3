import IPC
import Registry
import Settings

/// metricsd's settings, each defined once with its default and meaning.
enum MetricsSettings {
    static let scrapeTimeout = Setting<Duration>(
        name: "METRICS_SCRAPE_TIMEOUT_MS", default: .milliseconds(500),
        meaning: "How long a scrape waits for one daemon's stats before reporting it down.",
        unit: .milliseconds, range: .milliseconds(10)...(.seconds(30)))
    static let enabled = Setting<Bool>(
        name: "ENABLE_METRICS", default: true,
        meaning: "Serve /metrics; when false, /metrics answers 404.")

    static let table: [AnySetting] = [scrapeTimeout, enabled, ModelRegistry.registrySetting, ModelRegistry.modelsDirectorySetting]
}
