import Glibc
import Synchronization

/// The `Date:` header line (RFC 9110 §6.6.1), formatted at most once per second per event loop rather
/// than once per response.
final class HTTPDateCache: Sendable {
    private struct Entry {
        var second: Int = -1
        var line: [UInt8] = []
    }

    private let entry = Mutex(Entry())

    /// `Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n` for the current second.
    func headerLine() -> [UInt8] {
        let now = time(nil)
        return entry.withLock { entry in
            if entry.second != now {
                entry = Entry(second: now, line: Self.format(now))
            }
            return entry.line
        }
    }

    private static let days: [StaticString] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    private static let months: [StaticString] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]

    /// Formats a Unix time as a full `Date:` header line in IMF-fixdate form.
    static func format(_ seconds: Int) -> [UInt8] {
        var t = time_t(seconds)
        var parts = tm()
        gmtime_r(&t, &parts)
        var out: [UInt8] = []
        out.reserveCapacity(37)
        out.append(static: "Date: ")
        out.append(static: days[Int(parts.tm_wday) % 7])
        out.append(static: ", ")
        out.appendTwoDigits(Int(parts.tm_mday))
        out.append(ASCII.space)
        out.append(static: months[Int(parts.tm_mon) % 12])
        out.append(ASCII.space)
        out.appendDecimal(Int(parts.tm_year) + 1900)
        out.append(ASCII.space)
        out.appendTwoDigits(Int(parts.tm_hour))
        out.append(ASCII.colon)
        out.appendTwoDigits(Int(parts.tm_min))
        out.append(ASCII.colon)
        out.appendTwoDigits(Int(parts.tm_sec))
        out.append(static: " GMT\r\n")
        return out
    }
}
