import APIKeys
import Basics
import Dispatch
import Foundation
import Services

/// One key's spend as limitd reported it, in USD.
struct LimitSpend: Equatable {
    /// The period `spent` belongs to (seconds since 1970).
    var periodStart: Int64
    var spent: Double
    var reserved: Double
    var total: Double
}

/// What `inferctl keys list` shows of limitd's spend: asked on limitd's socket, matched to the keys
/// file's budget periods.
enum KeySpendReport {
    /// How long `keys list` waits for limitd.
    static let timeout = Duration.seconds(2)

    /// limitd's spend by key id, or nil when limitd does not answer.
    static func fetch(runtimeDirectory: String) -> [String: LimitSpend]? {
        let client = LimitClient(path: (runtimeDirectory.hasSuffix("/") ? runtimeDirectory : runtimeDirectory + "/") + "limitd.sock")
        defer { client.client.close() }
        let answer = Box()
        let done = DispatchSemaphore(value: 0)
        Task {
            answer.reply = try? await client.spendList(timeout: timeout)
            done.signal()
        }
        done.wait()
        guard let reply = answer.reply else { return nil }
        var spend: [String: LimitSpend] = [:]
        for key in reply.keys where key.key.hasPrefix("key:") {
            spend[String(key.key.dropFirst(4))] = LimitSpend(
                periodStart: key.periodStart, spent: NanoUSD.dollars(key.spentNanoUSD), reserved: NanoUSD.dollars(key.reservedNanoUSD),
                total: NanoUSD.dollars(key.totalSpentNanoUSD))
        }
        return spend
    }

    private final class Box: @unchecked Sendable {
        // Written by the task before the semaphore is signalled, read after the wait.
        var reply: LimitProtocol.SpendListReply?
    }

    /// The key's current budget period (end 0: none, or one that never ends).
    static func period(_ key: APIKeyEntry, now: Int64) -> (start: Int64, end: Int64) {
        guard key.maxBudget != nil || key.budgetDuration != nil, let period = key.budgetDuration else { return (0, 0) }
        return period.bounds(anchor: key.created ?? 0, now: now)
    }

    /// What the key spent in `period`: limitd's figure when it is of that period, else 0 (the period
    /// turned since the key's last request).
    static func spent(_ record: LimitSpend?, period: (start: Int64, end: Int64)) -> Double {
        guard let record, record.periodStart == period.start else { return 0 }
        return record.spent
    }
}
