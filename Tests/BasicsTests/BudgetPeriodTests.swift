import Basics
import Testing

@Suite("Basics: budget periods")
struct BudgetPeriodTests {
    static let day: Int64 = 86_400

    @Test("parses what the keys file and inferctl accept, and nothing else", arguments: [
        ("1h", "1h"), ("1d", "1d"), ("7d", "7d"), ("30d", "30d"), ("1mo", "1mo"), ("24h", "24h"),
    ])
    func parses(text: String, expected: String) {
        #expect(BudgetPeriod(text)?.description == expected)
    }

    @Test("refuses", arguments: ["", "d", "0d", "1w", "-1d", "1.5d", "1 d", "1001d", "1D", "mo"])
    func refuses(text: String) {
        #expect(BudgetPeriod(text) == nil)
    }

    @Test("fixed periods count from the anchor: start ≤ now < end")
    func fixed() throws {
        let week = try #require(BudgetPeriod("7d"))
        let anchor: Int64 = 1_700_000_000
        #expect(week.bounds(anchor: anchor, now: anchor) == (anchor, anchor + 7 * Self.day))
        #expect(week.bounds(anchor: anchor, now: anchor + 7 * Self.day - 1) == (anchor, anchor + 7 * Self.day))
        #expect(week.bounds(anchor: anchor, now: anchor + 7 * Self.day) == (anchor + 7 * Self.day, anchor + 14 * Self.day))
        // Before the anchor: the first period.
        #expect(week.bounds(anchor: anchor, now: anchor - 5) == (anchor, anchor + 7 * Self.day))
        let hour = try #require(BudgetPeriod("1h"))
        #expect(hour.bounds(anchor: 0, now: 3_600 * 5 + 1) == (3_600 * 5, 3_600 * 6))
    }

    @Test("months are calendar months from the anchor's day, clamped to shorter months")
    func months() throws {
        let month = try #require(BudgetPeriod("1mo"))
        let jan31: Int64 = 1_769_817_600  // 2026-01-31T00:00:00Z
        let feb28: Int64 = 1_772_236_800  // 2026-02-28T00:00:00Z
        let mar31: Int64 = 1_774_915_200  // 2026-03-31T00:00:00Z
        #expect(month.bounds(anchor: jan31, now: jan31 + 10) == (jan31, feb28))
        #expect(month.bounds(anchor: jan31, now: feb28) == (feb28, mar31))
        #expect(month.bounds(anchor: jan31, now: mar31 - 1) == (feb28, mar31))
        // A leap year's February.
        let jan31of2028: Int64 = 1_832_889_600  // 2028-01-31T00:00:00Z
        #expect(month.bounds(anchor: jan31of2028, now: jan31of2028 + 29 * Self.day).0 == jan31of2028 + 29 * Self.day)
        // Many months on, still exact.
        let quarter = try #require(BudgetPeriod("3mo"))
        let (start, end) = quarter.bounds(anchor: jan31, now: jan31 + 400 * Self.day)
        #expect(start <= jan31 + 400 * Self.day && jan31 + 400 * Self.day < end)
    }
}
