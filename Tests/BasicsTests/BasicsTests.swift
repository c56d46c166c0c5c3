import Basics
import Testing

@Suite("Duration conversions")
struct DurationConversionTests {
    @Test func clampedNanosecondsCapsAndFloors() {
        #expect(Duration.seconds(-5).clampedNanoseconds == 0)
        #expect(Duration.zero.clampedNanoseconds == 0)
        #expect(Duration.milliseconds(1500).clampedNanoseconds == 1_500_000_000)
        #expect(Duration.seconds(Int64.max).clampedNanoseconds == 9_000_000_000 * 1_000_000_000)
    }

    @Test func signedNanosecondsSaturate() {
        #expect(Duration.seconds(-1).nanoseconds == 0)
        #expect(Duration.microseconds(3).nanoseconds == 3_000)
        #expect(Duration.seconds(Int64.max).nanoseconds == Int64.max)
    }

    @Test func millisecondsAndSeconds() {
        #expect(Duration.milliseconds(2_345).milliseconds == 2_345)
        #expect(Duration.seconds(Int64.max).milliseconds == Int64.max)
        #expect(Duration.milliseconds(250).seconds == 0.25)
    }
}

@Suite("JSON strings")
struct JSONStringTests {
    @Test func escapesQuotesBackslashesAndControls() {
        #expect(JSONString.quoted("a\"b\\c") == #""a\"b\\c""#)
        #expect(JSONString.quoted("l1\nl2\r\t\u{08}\u{0C}") == #""l1\nl2\r\t\b\f""#)
        #expect(JSONString.quoted("\u{01}\u{1F}\u{7F}") == #""\u0001\u001f\u007f""#)
        #expect(JSONString.quoted("héllo ✓") == "\"héllo ✓\"")
        #expect(JSONString.quoted(nil as String?) == "null")
    }

    @Test func appendsToBytes() {
        var out: [UInt8] = Array("x=".utf8)
        JSONString.append("\u{00}", to: &out)
        #expect(String(decoding: out, as: UTF8.self) == #"x="\u0000""#)
    }

    @Test func monotonicClockNeverGoesBack() {
        let a = MonotonicClock.now()
        let b = MonotonicClock.now()
        #expect(b >= a)
        #expect(MonotonicClock.nowSigned() >= Int64(bitPattern: a))
    }
}
