import FoundationEssentials
import Glibc
import Settings
import Tracing

/// The standard OpenTelemetry variables every daemon reads for its traces, and the tracer they make.
///
/// Nothing is exported unless an endpoint is set (`OTEL_EXPORTER_OTLP_ENDPOINT`, its traces-only form,
/// or the original API's `OTLP_ENDPOINT`); the trace context is propagated (and frontd's reply carries
/// `traceparent`) either way.
public enum TracingSettings {
    /// `OTEL_SDK_DISABLED`: no spans at all.
    public static let sdkDisabled = Setting<Bool>(
        name: "OTEL_SDK_DISABLED", default: false, meaning: "Record no spans (trace context is still passed on).")

    /// `ENABLE_TRACING`: the original API's switch; false is the same as `OTEL_SDK_DISABLED=true`.
    public static let enableTracing = Setting<Bool>(
        name: "ENABLE_TRACING", default: true, meaning: "Record and export spans (false: the same as OTEL_SDK_DISABLED=true).")

    /// `OTEL_SERVICE_NAME`: the `service.name` of this daemon's spans.
    public static let serviceName = Setting<String?>(
        name: "OTEL_SERVICE_NAME", meaning: "service.name of this daemon's spans (unset: infer-DAEMON, e.g. infer-frontd).")

    /// What the endpoint settings accept: plain `http://` (the exporter has no TLS of its own, so that the
    /// daemons load no libcurl); an `https://` collector is reached through a local OpenTelemetry Collector.
    static let collectorURL =
        "an http:// URL with a host (an https:// collector: run a local OpenTelemetry Collector that forwards to it, and give its http:// address)"

    /// `OTEL_EXPORTER_OTLP_ENDPOINT`: the collector's OTLP/HTTP base URL; traces go to `/v1/traces` under it.
    public static let endpoint = Setting<URL?>(
        name: "OTEL_EXPORTER_OTLP_ENDPOINT",
        meaning: "OTLP/HTTP base URL of the collector (spans go to its /v1/traces); unset: no export.",
        schemes: OTLPHTTPExporter.schemes, expected: collectorURL)

    /// `OTLP_ENDPOINT`: the original API's name for the same, used when the standard one is unset.
    public static let legacyEndpoint = Setting<URL?>(
        name: "OTLP_ENDPOINT", meaning: "The same as OTEL_EXPORTER_OTLP_ENDPOINT, read when that is unset.",
        schemes: OTLPHTTPExporter.schemes, expected: collectorURL)

    /// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`: the traces URL itself (wins over the base URL).
    public static let tracesEndpoint = Setting<URL?>(
        name: "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", meaning: "Full OTLP/HTTP traces URL; wins over OTEL_EXPORTER_OTLP_ENDPOINT.",
        schemes: OTLPHTTPExporter.schemes, expected: collectorURL)

    /// `OTEL_EXPORTER_OTLP_HEADERS`: headers on every export (`api-key=...,x-tenant=...`); kept secret.
    public static let headers = Setting<String?>.optional(
        name: "OTEL_EXPORTER_OTLP_HEADERS",
        meaning: "Headers sent with every export, as name=value pairs separated by commas (values percent-decoded).",
        expected: "name=value pairs separated by commas", secret: true
    ) { text in
        OTLPHTTPExporter.parseHeaders(text) == nil ? nil : text
    }

    /// `OTEL_EXPORTER_OTLP_TIMEOUT`: longest wait for one export.
    public static let exportTimeout = Setting<Duration>(
        name: "OTEL_EXPORTER_OTLP_TIMEOUT", default: .seconds(10), meaning: "Longest wait for the collector to take one batch.",
        unit: .milliseconds, range: .milliseconds(1) ... .seconds(300))

    /// `OTEL_TRACES_SAMPLER`: which traces are recorded.
    public static let sampler = Setting<String>(
        name: "OTEL_TRACES_SAMPLER", default: "parentbased_always_on",
        meaning: "Sampler: always_on, always_off, traceidratio or their parentbased_ forms (follow the caller's decision).",
        expected: "one of \(Sampler.names.joined(separator: ", "))",
        isValid: { Sampler.named($0, argument: 1) != nil })

    /// `OTEL_TRACES_SAMPLER_ARG`: the ratio of the `traceidratio` samplers.
    public static let samplerArgument = Setting<Double>(
        name: "OTEL_TRACES_SAMPLER_ARG", default: 1.0, meaning: "Share of new traces recorded by the traceidratio samplers (0 to 1).",
        range: 0...1)

    /// `OTEL_BSP_MAX_QUEUE_SIZE`: spans waiting for export at most; more are dropped and counted.
    public static let maxQueueSize = Setting<Int>(
        name: "OTEL_BSP_MAX_QUEUE_SIZE", default: 2048,
        meaning: "Spans waiting for export at most; more are dropped and counted (infer_trace_spans_dropped_total).",
        range: 1...1_000_000)

    /// `OTEL_BSP_SCHEDULE_DELAY`: longest wait between two exports.
    public static let scheduleDelay = Setting<Duration>(
        name: "OTEL_BSP_SCHEDULE_DELAY", default: .seconds(5), meaning: "Longest wait between two exports.",
        unit: .milliseconds, range: .milliseconds(1) ... .seconds(300))

    /// `OTEL_BSP_MAX_EXPORT_BATCH_SIZE`: most spans in one export.
    public static let maxExportBatchSize = Setting<Int>(
        name: "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", default: 512, meaning: "Most spans in one export (at most the queue size).",
        range: 1...1_000_000)

    /// Every tracing setting, in the order `--help` lists them.
    public static let all: [AnySetting] = [
        sdkDisabled, enableTracing, serviceName, endpoint, legacyEndpoint, tracesEndpoint, headers, exportTimeout, sampler,
        samplerArgument, maxQueueSize, scheduleDelay, maxExportBatchSize,
    ]

    /// The tracer these settings describe for `daemon`.
    /// - Returns: A tracer that exports to the configured endpoint, or one that records nothing (no
    ///   endpoint, or tracing disabled) but still samples, so contexts propagate with the right flags.
    public static func tracer(_ settings: Settings, daemon: String) -> Tracer {
        let name = settings[serviceName] ?? "infer-\(daemon)"
        let sampler = Sampler.named(settings[Self.sampler], argument: settings[samplerArgument]) ?? .parentBased(root: .alwaysOn)
        let disabled = settings[sdkDisabled] || !settings[enableTracing]
        guard !disabled,
              let url = OTLPHTTPExporter.tracesEndpoint(traces: settings[tracesEndpoint], base: settings[endpoint] ?? settings[legacyEndpoint])
        else { return Tracer(serviceName: name, sampler: disabled ? .alwaysOff : sampler) }
        var host = [UInt8](repeating: 0, count: 256)
        _ = host.withUnsafeMutableBufferPointer { $0.withMemoryRebound(to: CChar.self) { $0.baseAddress.map { base in gethostname(base, 255) } } }
        let resource: [(key: String, value: AttributeValue)] = [
            ("service.name", .string(name)), ("service.namespace", .string("infer")),
            ("host.name", .string(String(decoding: host.prefix { $0 != 0 }, as: UTF8.self))), ("process.pid", .int(Int(getpid()))),
            ("telemetry.sdk.name", .string("infer")), ("telemetry.sdk.language", .string("swift")),
        ]
        let exporter = OTLPHTTPExporter(
            endpoint: url, headers: settings[headers].flatMap(OTLPHTTPExporter.parseHeaders) ?? [], resource: resource,
            timeout: settings[exportTimeout])
        let batch = BatchSettings(maxQueueSize: settings[maxQueueSize], scheduleDelay: settings[scheduleDelay],
                                  maxExportBatchSize: settings[maxExportBatchSize])
        return Tracer(serviceName: name, sampler: sampler, processor: BatchSpanProcessor(exporter: exporter, settings: batch))
    }
}
