extension StringProtocol {
    /// The text without the white space (spaces, tabs, line breaks: `Character.isWhitespace`) at either
    /// end; what Foundation's `trimmingCharacters(in: .whitespacesAndNewlines)` gives, without importing
    /// Foundation (FoundationEssentials has no `CharacterSet` trimming).
    public func trimmingWhitespace() -> String {
        guard let first = firstIndex(where: { !$0.isWhitespace }), let last = lastIndex(where: { !$0.isWhitespace }) else { return "" }
        return String(self[first...last])
    }
}
