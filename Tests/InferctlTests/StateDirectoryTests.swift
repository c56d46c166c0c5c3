import Testing

@testable import inferctl

/// inferctl gives frontd a state directory it can write.
@Suite struct StateDirectoryTests {
    @Test func inferctlPointsFrontdAtAStateDirectory() throws {
        let defaults = try StackConfiguration.resolve(options: UpOptions(), environment: [:], executableDirectory: "/b", currentDirectory: "/srv")
        #expect(defaults.environment["INFER_STATE_DIR"] == "/run/infer/state")
        let chosen = try StackConfiguration.resolve(options: UpOptions(), environment: ["INFER_STATE_DIR": "state"],
                                                    executableDirectory: "/b", currentDirectory: "/srv")
        #expect(chosen.environment["INFER_STATE_DIR"] == "/srv/state")
        let systemd = try StackConfiguration.resolve(options: UpOptions(), environment: ["STATE_DIRECTORY": "/var/lib/infer/frontd"],
                                                     executableDirectory: "/b", currentDirectory: "/srv")
        #expect(systemd.environment["INFER_STATE_DIR"] == nil && systemd.environment["STATE_DIRECTORY"] == "/var/lib/infer/frontd")
    }
}
