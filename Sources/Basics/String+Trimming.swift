extension StringProtocol {
    /// The text without the white space (spaces, tabs, line breaks: `Character.isWhitespace`) at either
    /// end; what Foundation's `trimmingCharacters(in: .whitespacesAndNewlines)` gives, without importing
    /// Foundation (FoundationEssentials has no `CharacterSet` trimming).
    public func trimmingWhitespace() -> String {
        guard let first = firstIndex(where: { !$0.isWhitespace }), let last = lastIndex(where: { !$0.isWhitespace }) else { return "" }
        return String(self[first...last])
    }
}

extension StringProtocol {
    /// The text without spaces and tabs at either end — HTTP's optional white space (OWS, RFC 9110
    /// §5.6.3), and what Foundation's `trimmingCharacters(in: .whitespaces)` gave for the ASCII tokens of
    /// headers and settings. Narrower than ``trimmingWhitespace()``, which also takes line breaks and
    /// Unicode spaces.
    public func trimmingOptionalWhitespace() -> String {
        var slice = self[...]
        while let first = slice.first, first == " " || first == "\t" { slice = slice.dropFirst() }
        while let last = slice.last, last == " " || last == "\t" { slice = slice.dropLast() }
        return String(slice)
    }
}
