/// When SET writes: always, only when the key is absent (NX), or only when it exists (XX).
public enum RedisSetCondition: Sendable, Hashable {
    /// Write whatever is there.
    case always
    /// NX: write only if the key does not exist (a lock, a first-writer-wins cache fill).
    case ifNotExists
    /// XX: write only if the key exists.
    case ifExists
}
