import Foundation

/// An environment file as systemd's `EnvironmentFile=` reads it (`/etc/infer/infer.env`), so the same
/// file works under systemd and under `inferctl up --env-file`:
///
/// ```
/// # comment; lines starting with ; are comments too
/// PORT=8080
/// CORS_ORIGINS = https://a.example,https://b.example
/// GREETING="hello \"world\""   # in double quotes \" \\ \$ and \` are escapes
/// RAW='no $escapes\here'
/// LONG=first \
///      second
/// ```
///
/// Whitespace around the name and the value is dropped; a value is taken literally up to the end of the
/// line (a `#` inside it is part of it); a backslash at the end of an unquoted line continues it on the
/// next. `export NAME=...` is refused, because systemd refuses it too.
enum EnvironmentFile {
    /// One problem in a file, with its line number.
    struct ParseError: Error, CustomStringConvertible, Equatable {
        let source: String
        let line: Int
        let message: String

        var description: String { "\(source):\(line): \(message)" }
    }

    /// Reads a file.
    /// - Parameter path: The file.
    /// - Returns: The assignments in file order (a name set twice appears twice; the last one wins).
    /// - Throws: ``InferctlError`` (`.configuration`) when the file cannot be read or a line is wrong.
    static func load(path: String) throws(InferctlError) -> [(name: String, value: String)] {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw .configuration("cannot read the environment file \(path): "
                + (FileManager.default.fileExists(atPath: path) ? "not readable UTF-8 text" : "no such file"))
        }
        do {
            return try parse(text, source: path)
        } catch {
            throw .configuration(error.description)
        }
    }

    /// Parses the text of a file.
    /// - Parameters:
    ///   - text: The text.
    ///   - source: The file name used in errors.
    /// - Returns: The assignments in file order.
    /// - Throws: ``ParseError`` naming the line.
    static func parse(_ text: String, source: String) throws(ParseError) -> [(name: String, value: String)] {
        var result: [(name: String, value: String)] = []
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            line.hasSuffix("\r") ? String(line.dropLast()) : String(line)
        }
        var index = 0
        while index < lines.count {
            let number = index + 1
            var line = lines[index]
            index += 1
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("#") || trimmed.hasPrefix(";") { continue }
            // An unquoted value continues on the next line after a trailing backslash.
            while line.hasSuffix("\\"), !isQuotedStart(line), index < lines.count {
                line = String(line.dropLast()) + lines[index]
                index += 1
            }
            guard let equals = line.firstIndex(of: "=") else {
                throw ParseError(source: source, line: number, message: "expected NAME=VALUE")
            }
            let name = line[..<equals].trimmingCharacters(in: .whitespaces)
            if name.hasPrefix("export ") {
                throw ParseError(source: source, line: number,
                                 message: "\"export\" is not allowed (systemd's EnvironmentFile= refuses it); write \(name.dropFirst(7).trimmingCharacters(in: .whitespaces))=...")
            }
            guard isValidName(name) else {
                throw ParseError(source: source, line: number,
                                 message: "\"\(name)\" is not a variable name (letters, digits and _, not starting with a digit)")
            }
            let rawValue = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            let value = try unquote(rawValue, source: source, line: number)
            result.append((name, value))
        }
        return result
    }

    /// Whether a NAME=VALUE line's value opens a quote.
    private static func isQuotedStart(_ line: String) -> Bool {
        guard let equals = line.firstIndex(of: "=") else { return false }
        let value = line[line.index(after: equals)...].drop { $0 == " " || $0 == "\t" }
        return value.first == "\"" || value.first == "'"
    }

    private static func unquote(_ value: String, source: String, line: Int) throws(ParseError) -> String {
        guard let quote = value.first, quote == "\"" || quote == "'" else { return value }
        var result = ""
        var iterator = value.dropFirst().makeIterator()
        while let character = iterator.next() {
            if character == quote {
                let rest = String(IteratorSequence(iterator)).trimmingCharacters(in: .whitespaces)
                guard rest.isEmpty else {
                    throw ParseError(source: source, line: line, message: "unexpected text after the closing quote: \(rest)")
                }
                return result
            }
            if quote == "\"", character == "\\", let next = iterator.next() {
                // systemd unescapes only these in double quotes; any other backslash stays as written.
                if "\"\\$`".contains(next) {
                    result.append(next)
                } else {
                    result.append(character)
                    result.append(next)
                }
                continue
            }
            result.append(character)
        }
        throw ParseError(source: source, line: line, message: "missing closing \(quote)")
    }

    /// Letters, digits and underscores, not starting with a digit.
    static func isValidName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, !("0"..."9").contains(first) else { return false }
        return name.unicodeScalars.allSatisfy { scalar in
            ("A"..."Z").contains(scalar) || ("a"..."z").contains(scalar) || ("0"..."9").contains(scalar) || scalar == "_"
        }
    }
}
