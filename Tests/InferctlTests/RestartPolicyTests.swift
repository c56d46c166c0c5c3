import Glibc
import Testing

@testable import inferctl

@Suite("Restart policy and backoff")
struct RestartPolicyTests {
    @Test("The delay starts at 100 ms and doubles up to 5 s")
    func doubling() {
        var backoff = RestartBackoff()
        let delays = (0..<10).map { _ in backoff.delay(afterUptime: .milliseconds(50)) }
        #expect(delays == [
            .milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(800), .milliseconds(1600),
            .milliseconds(3200), .seconds(5), .seconds(5), .seconds(5), .seconds(5),
        ])
    }

    @Test("Ten seconds of uptime reset the delay to 100 ms")
    func reset() {
        var backoff = RestartBackoff()
        for _ in 0..<5 { _ = backoff.delay(afterUptime: .seconds(1)) }
        #expect(backoff.delay(afterUptime: .milliseconds(9_999)) == .milliseconds(3200))
        #expect(backoff.delay(afterUptime: .seconds(10)) == .milliseconds(100))
        #expect(backoff.delay(afterUptime: .seconds(1)) == .milliseconds(200))
        #expect(backoff.delay(afterUptime: .seconds(3600)) == .milliseconds(100))
    }

    @Test("Other bounds")
    func bounds() {
        var backoff = RestartBackoff(initial: .seconds(1), maximum: .seconds(3), resetAfter: .seconds(60))
        #expect((0..<4).map { _ in backoff.delay(afterUptime: .zero) } == [.seconds(1), .seconds(2), .seconds(3), .seconds(3)])
        #expect(backoff.delay(afterUptime: .seconds(59)) == .seconds(3))
        #expect(backoff.delay(afterUptime: .seconds(60)) == .seconds(1))
    }

    @Test("Restart=on-failure with RestartPreventExitStatus=78", arguments: [
        (ChildOutcome.exited(1), RestartDecision.restart),
        (.exited(71), .restart),
        (.exited(127), .restart),
        (.exited(78), .stopStack),
        (.exited(0), .startOnConnection),
        (.signaled(SIGKILL), .restart),
        (.signaled(SIGSEGV), .restart),
        (.signaled(SIGABRT), .restart),
        (.signaled(SIGTERM), .startOnConnection),
        (.signaled(SIGINT), .startOnConnection),
        (.signaled(SIGHUP), .startOnConnection),
        (.signaled(SIGPIPE), .startOnConnection),
    ])
    func decisions(outcome: ChildOutcome, decision: RestartDecision) {
        #expect(RestartPolicy.decide(outcome) == decision)
    }

    @Test("A daemon killed for a missed watchdog or start timeout is restarted whatever its status")
    func killedBySupervisor() {
        #expect(RestartPolicy.decide(.exited(0), killedBySupervisor: true) == .restart)
        #expect(RestartPolicy.decide(.exited(78), killedBySupervisor: true) == .restart)
        #expect(RestartPolicy.decide(.signaled(SIGTERM), killedBySupervisor: true) == .restart)
    }

    @Test("Outcomes read as an operator expects")
    func descriptions() {
        #expect(ChildOutcome.exited(78).description == "exited with status 78")
        #expect(ChildOutcome.signaled(SIGKILL).description == "killed by signal 9 (SIGKILL)")
        #expect(signalName(64) == "signal 64")
    }
}
