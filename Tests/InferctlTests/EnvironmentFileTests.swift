import Foundation
import Testing

@testable import inferctl

@Suite("Environment files (systemd EnvironmentFile= syntax)")
struct EnvironmentFileTests {
    private func parse(_ text: String) throws -> [String] {
        try EnvironmentFile.parse(text, source: "infer.env").map { "\($0.name)=\($0.value)" }
    }

    @Test("Assignments, comments, blank lines and whitespace")
    func basics() throws {
        let text = """
            # a comment
            ; another comment
              PORT=8080

            LOG_LEVEL = debug
            CORS_ORIGINS=https://a.example,https://b.example
            EMPTY=
            HASH=value # not a comment
            PORT=9090\r
            """
        #expect(try parse(text) == [
            "PORT=8080", "LOG_LEVEL=debug", "CORS_ORIGINS=https://a.example,https://b.example", "EMPTY=",
            "HASH=value # not a comment", "PORT=9090",
        ])
    }

    @Test("Quotes: double quotes unescape \\\" \\\\ \\$ \\`; single quotes are literal")
    func quotes() throws {
        #expect(try parse(#"A="hello \"world\"""#) == [#"A=hello "world""#])
        #expect(try parse(#"B="back\\slash \$HOME \`x\` \n kept""#) == [#"B=back\slash $HOME `x` \n kept"#])
        #expect(try parse(#"C='no $escapes\here "at all"'"#) == [#"C=no $escapes\here "at all""#])
        #expect(try parse(#"D="  spaces kept  ""#) == ["D=  spaces kept  "])
        #expect(try parse(#"E="a=b""#) == ["E=a=b"])
    }

    @Test("A trailing backslash continues an unquoted value")
    func continuation() throws {
        #expect(try parse("LONG=first \\\nsecond\nNEXT=1") == ["LONG=first second", "NEXT=1"])
    }

    @Test("Errors name the file and line", arguments: [
        ("PORT=1\nnot an assignment", 2, "expected NAME=VALUE"),
        ("export PORT=1", 1, "\"export\" is not allowed"),
        ("1PORT=1", 1, "not a variable name"),
        ("MY-VAR=1", 1, "not a variable name"),
        ("=1", 1, "not a variable name"),
        ("A=\"unterminated", 1, "missing closing \""),
        ("\n\nA='x' trailing", 3, "unexpected text after the closing quote"),
    ])
    func errors(text: String, line: Int, words: String) {
        do {
            _ = try EnvironmentFile.parse(text, source: "infer.env")
            Issue.record("\(text) should be rejected")
        } catch {
            #expect(error.line == line)
            #expect(error.description.hasPrefix("infer.env:\(line): "))
            #expect(error.description.contains(words), "\(error.description)")
        }
    }

    @Test("A missing file is a configuration error (exit 78)")
    func missingFile() {
        do {
            _ = try EnvironmentFile.load(path: "/nonexistent/infer.env")
            Issue.record("a missing file must be an error")
        } catch {
            #expect(error.exitStatus == 78)
            #expect(error.description.contains("/nonexistent/infer.env: no such file"))
        }
    }

    @Test("Files are applied in order over the environment; the last assignment wins")
    func merge() {
        let merged = StackConfiguration.merge(
            [("PORT", "1"), ("LOG_LEVEL", "debug"), ("PORT", "2")], into: ["PORT": "0", "HOME": "/root"])
        #expect(merged == ["PORT": "2", "LOG_LEVEL": "debug", "HOME": "/root"])
    }
}
