import Testing
@testable import frontd

@Suite struct ReplayGuardTests {
    @Test func secondDeliveryWithinTheWindowIsAReplay() {
        let guardian = ReplayGuard(window: 300, capacity: 100)
        #expect(guardian.claim("evt_1", timestamp: 1000, now: 1000) == .claimed)
        #expect(guardian.claim("evt_1", timestamp: 1000, now: 1001) == .replayed)
        // A retry signed later is still the same event.
        #expect(guardian.claim("evt_1", timestamp: 1200, now: 1200) == .replayed)
        #expect(guardian.claim("evt_2", timestamp: 1000, now: 1001) == .claimed)
    }

    @Test func idsAreForgottenOnceNoCopyCouldPassTheTimestampCheck() {
        let guardian = ReplayGuard(window: 300, capacity: 100)
        // Signed 200 s in the future: a copy passes the timestamp check until 1500.
        #expect(guardian.claim("future", timestamp: 1200, now: 1000) == .claimed)
        #expect(guardian.claim("now", timestamp: 1000, now: 1000) == .claimed)
        #expect(guardian.contains("now", now: 1300) && !guardian.contains("now", now: 1301))
        #expect(guardian.claim("future", timestamp: 1200, now: 1500) == .replayed)
        #expect(guardian.claim("future", timestamp: 1501, now: 1501) == .claimed)
        // Swept: memory is bounded by the window.
        _ = guardian.claim("late", timestamp: 5000, now: 5000)
        #expect(guardian.count == 1)
    }

    @Test func capacityBoundsMemory() {
        let guardian = ReplayGuard(window: 300, capacity: 3)
        for i in 0..<3 { #expect(guardian.claim("e\(i)", timestamp: 1000, now: 1000) == .claimed) }
        #expect(guardian.claim("e3", timestamp: 1000, now: 1000) == .full)
        #expect(guardian.claim("e0", timestamp: 1000, now: 1000) == .replayed)
        // Once the first ones expire there is room again.
        #expect(guardian.claim("e3", timestamp: 1301, now: 1301) == .claimed)
        #expect(guardian.count == 1)
    }

    @Test func releasedIdsCanBeDeliveredAgain() {
        let guardian = ReplayGuard(window: 300, capacity: 10)
        #expect(guardian.claim("evt", timestamp: 1000, now: 1000) == .claimed)
        guardian.release("evt")
        #expect(guardian.claim("evt", timestamp: 1000, now: 1001) == .claimed)
    }

    @Test func idsFromTheJournalAreRememberedUntilTheirWindowEnds() {
        let guardian = ReplayGuard(window: 300, capacity: 10)
        #expect(guardian.remember("old", timestamp: 100, received: 100, now: 1000) == false)
        #expect(guardian.remember("recent", timestamp: 900, received: 901, now: 1000))
        #expect(guardian.claim("recent", timestamp: 900, now: 1000) == .replayed)
        #expect(guardian.claim("old", timestamp: 1000, now: 1000) == .claimed)
    }
}
