import APIKeys
import Basics

/// The limits, budget, models and expiry `inferctl keys create|update` were given: each nil when its flag
/// was not (update keeps the key's value then; create leaves it unset).
struct KeySettings: Equatable {
    var requestsPerMinute: UInt32?
    var requestsPerHour: UInt32?
    var tokensPerMinute: UInt32?
    var maxParallel: UInt32?
    /// `--max-budget USD` (.some(nil): `none`, no budget).
    var maxBudget: Double??
    /// `--budget-duration 30d` (.some(nil): `none`, the budget never resets).
    var budgetDuration: BudgetPeriod??
    /// `--models m1,m2` (`all`: the empty list).
    var models: [String]?
    /// `--expires 90d`, from now (.some(nil): `never`).
    var expiresIn: Int64??
    /// `--model-limit MODEL:rpm=10,tpm=2000` (nil limits: `MODEL:none`, removed).
    var modelLimits: [String: APIKeyLimits?] = [:]
    /// `--scopes` on update.
    var scopes: Set<APIKeyScope>?

    /// The flags that take a value, by name.
    static let flags = ["--rpm", "--rph", "--tpm", "--max-parallel", "--max-budget", "--budget-duration", "--models", "--expires", "--model-limit"]

    /// Reads one of ``flags``; false when `flag` is another.
    mutating func read(_ flag: FlagReader.Flag) throws(InferctlError) -> Bool {
        switch flag.name {
        case "--rpm": requestsPerMinute = try Self.limit(flag, max: APIKeyEntry.maxRequestsPerMinute, what: "requests per minute")
        case "--rph": requestsPerHour = try Self.limit(flag, max: 100_000_000, what: "requests per hour")
        case "--tpm": tokensPerMinute = try Self.limit(flag, max: 2_000_000_000, what: "tokens per minute")
        case "--max-parallel": maxParallel = try Self.limit(flag, max: 1_000_000, what: "requests at once")
        case "--max-budget":
            if flag.value == "none" { maxBudget = .some(nil); break }
            let text = flag.value.hasPrefix("$") ? String(flag.value.dropFirst()) : flag.value
            guard let usd = Double(text), usd.isFinite, usd >= 0, usd <= APIKeyFile.maxBudget else {
                throw .usage("--max-budget \(flag.value): expected USD, a number such as 5 or 0.25 (or none)")
            }
            maxBudget = .some(usd)
        case "--budget-duration":
            if flag.value == "none" { budgetDuration = .some(nil); break }
            guard let period = BudgetPeriod(flag.value) else {
                throw .usage("--budget-duration \(flag.value): expected 1h, 1d, 7d, 30d or 1mo (a number of h, d or mo), or none")
            }
            budgetDuration = .some(period)
        case "--models":
            let value = try flag.nonEmpty()
            models = value == "all" ? [] : value.split(separator: ",").map { String($0) }
        case "--expires":
            if flag.value == "never" { expiresIn = .some(nil); break }
            guard let seconds = Self.seconds(flag.value) else {
                throw .usage("--expires \(flag.value): expected a time from now such as 90d, 12h or 30m, or never")
            }
            expiresIn = .some(seconds)
        case "--model-limit": try readModelLimit(flag)
        default: return false
        }
        return true
    }

    /// `MODEL:rpm=10,rph=100,tpm=2000,max-parallel=2` or `MODEL:none`.
    private mutating func readModelLimit(_ flag: FlagReader.Flag) throws(InferctlError) {
        let usage = InferctlError.usage("--model-limit \(flag.value): expected MODEL:rpm=N,rph=N,tpm=N,max-parallel=N (any of them), or MODEL:none")
        guard let colon = flag.value.firstIndex(of: ":") else { throw usage }
        let model = String(flag.value[..<colon]), rest = flag.value[flag.value.index(after: colon)...]
        guard !model.isEmpty else { throw usage }
        if rest == "none" {
            modelLimits[model] = .some(nil)
            return
        }
        var limits = APIKeyLimits()
        for item in rest.split(separator: ",") {
            let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, let value = UInt32(parts[1]) else { throw usage }
            switch parts[0] {
            case "rpm": limits.requestsPerMinute = value
            case "rph": limits.requestsPerHour = value
            case "tpm": limits.tokensPerMinute = value
            case "max-parallel": limits.maxParallel = value
            default: throw usage
            }
        }
        guard !limits.isEmpty else { throw usage }
        modelLimits[model] = .some(limits)
    }

    private static func limit(_ flag: FlagReader.Flag, max: UInt32, what: String) throws(InferctlError) -> UInt32 {
        guard let value = UInt32(flag.value), value <= max else {
            throw .usage("\(flag.name) \(flag.value): expected \(what), an integer between 0 and \(max) (0: limitd's default)")
        }
        return value
    }

    /// `90d`, `12h`, `30m`, `45s` in seconds.
    static func seconds(_ text: String) -> Int64? {
        guard let unit = text.last, let count = Int64(text.dropLast()), count > 0, count <= 100_000 else { return nil }
        switch unit {
        case "d": return count * 86_400
        case "h": return count * 3_600
        case "m": return count * 60
        case "s": return count
        default: return nil
        }
    }

    /// Applies what was given to `entry`.
    /// - Parameter now: Seconds since 1970, for `--expires`.
    func apply(to entry: inout APIKeyEntry, now: Int64) {
        if let requestsPerMinute { entry.requestsPerMinute = requestsPerMinute }
        if let requestsPerHour { entry.requestsPerHour = requestsPerHour }
        if let tokensPerMinute { entry.tokensPerMinute = tokensPerMinute }
        if let maxParallel { entry.maxParallel = maxParallel }
        if let maxBudget { entry.maxBudget = maxBudget }
        if let budgetDuration { entry.budgetDuration = budgetDuration }
        if let models { entry.models = models }
        if let expiresIn { entry.expires = expiresIn.map { now + $0 } }
        for (model, limits) in modelLimits { entry.modelLimits[model] = limits }
        if let scopes { entry.scopes = scopes }
    }
}
