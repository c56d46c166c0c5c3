import Services
import Wire

/// What limitd remembers of one API key's spending: its current budget period, what was charged in it,
/// what running requests hold, and everything ever charged. Amounts in nano-USD.
struct SpendRecord: Sendable, Equatable {
    /// The current period, in seconds since 1970 (end 0: a budget without a period, never reset).
    var periodStart: Int64 = 0
    var periodEnd: Int64 = 0
    /// Charged in the current period.
    var spent: UInt64 = 0
    /// The worst cases still held by running requests (derived from the reservations when read back).
    var reserved: UInt64 = 0
    /// Charged since limitd first saw the key.
    var total: UInt64 = 0
    /// The budget terms the period was computed from (the last a request brought).
    var budget = LimitProtocol.Budget()
}

/// One admitted request's hold on its key's limits, until it is settled or its lease runs out.
struct Reservation: Sendable, Equatable {
    let id: UInt64
    /// The key's scope, and the key-and-model scope ("" when the model had no limits of its own).
    let key: String
    let modelScope: String
    /// Tokens held (an upper bound of prompt + completion).
    let tokens: UInt32
    /// Worst-case cost held against the budget, in nano-USD.
    let cost: UInt64
    /// The token interval charged in each scope (0: no token limit there), to give back exactly what was taken.
    let keyTokenInterval: Int64
    let modelTokenInterval: Int64
    /// When the lease runs out, on limitd's clock (nanoseconds).
    let expires: Int64
    /// What partial settlements (batch items) already charged.
    var usedTokens: UInt64 = 0
    var usedCost: UInt64 = 0

    /// The part of the worst-case cost not yet charged: what the budget still holds for it.
    var heldCost: UInt64 { cost > usedCost ? cost - usedCost : 0 }
}

/// One change to limitd's state as the journal and the snapshot hold it: reading them back in order
/// rebuilds the state. Each is the whole new value of what changed, so reading back is assignment.
enum JournalRecord: Sendable, Equatable {
    /// A scope's rate record.
    case rate(String, KeyRecord)
    /// An API key's spend.
    case spend(String, SpendRecord)
    /// A reservation made, or partly settled.
    case reserved(Reservation)
    /// A reservation ended (settled or expired).
    case finished(UInt64)

    private enum Tag: UInt8 {
        case rate = 1, spend = 2, reserved = 3, finished = 4
    }

    func encode(to w: inout WireWriter) {
        switch self {
        case .rate(let key, let r):
            w.writeUInt8(Tag.rate.rawValue)
            w.writeString(key)
            for value in [r.theoreticalArrival, r.hourArrival, r.tokenArrival] { w.writeInt64(value) }
            w.writeUInt64(r.promptTokens)
            w.writeUInt64(r.completionTokens)
        case .spend(let key, let s):
            w.writeUInt8(Tag.spend.rawValue)
            w.writeString(key)
            w.writeInt64(s.periodStart)
            w.writeInt64(s.periodEnd)
            w.writeUInt64(s.spent)
            w.writeUInt64(s.total)
            s.budget.encode(to: &w)
        case .reserved(let r):
            w.writeUInt8(Tag.reserved.rawValue)
            w.writeUInt64(r.id)
            w.writeString(r.key)
            w.writeString(r.modelScope)
            w.writeUInt32(r.tokens)
            w.writeUInt64(r.cost)
            w.writeInt64(r.keyTokenInterval)
            w.writeInt64(r.modelTokenInterval)
            w.writeInt64(r.expires)
            w.writeUInt64(r.usedTokens)
            w.writeUInt64(r.usedCost)
        case .finished(let id):
            w.writeUInt8(Tag.finished.rawValue)
            w.writeUInt64(id)
        }
    }

    init(from r: inout WireReader) throws {
        let raw = try r.readUInt8()
        switch Tag(rawValue: raw) {
        case .rate:
            let key = try r.readString(maxLength: 2048)
            let record = KeyRecord(theoreticalArrival: try r.readInt64(), hourArrival: try r.readInt64(), tokenArrival: try r.readInt64(),
                                   promptTokens: try r.readUInt64(), completionTokens: try r.readUInt64())
            self = .rate(key, record)
        case .spend:
            let key = try r.readString(maxLength: 2048)
            var s = SpendRecord()
            s.periodStart = try r.readInt64()
            s.periodEnd = try r.readInt64()
            s.spent = try r.readUInt64()
            s.total = try r.readUInt64()
            s.budget = try LimitProtocol.Budget(from: &r)
            self = .spend(key, s)
        case .reserved:
            let id = try r.readUInt64()
            var reservation = Reservation(
                id: id, key: try r.readString(maxLength: 2048), modelScope: try r.readString(maxLength: 2048),
                tokens: try r.readUInt32(), cost: try r.readUInt64(), keyTokenInterval: try r.readInt64(),
                modelTokenInterval: try r.readInt64(), expires: try r.readInt64())
            reservation.usedTokens = try r.readUInt64()
            reservation.usedCost = try r.readUInt64()
            self = .reserved(reservation)
        case .finished:
            self = .finished(try r.readUInt64())
        case nil:
            throw WireError.invalidValue("journal record tag", UInt64(raw))
        }
    }
}
