import DaemonRuntime

/// A logger that drops every line, so tests stay quiet (a test that reads log lines uses ``LogCapture``).
public let quietLogger = Logger(daemon: "test", level: .error, output: .lines { _ in })
