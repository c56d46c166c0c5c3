import Basics
import Testing

/// Two domains declared the way a library declares its error's codes.
private struct ParseFailure: Error {}
private struct NetworkFailure: Error {}

extension ErrorCode where Domain == ParseFailure {
    fileprivate static var tooLong: Self { Self("too long") }
    fileprivate static var timeout: Self { Self("timeout") }
}

extension ErrorCode where Domain == NetworkFailure {
    fileprivate static var timeout: Self { Self("timeout") }
}

@Suite("Error codes")
struct ErrorCodeTests {
    @Test func equalByNameWithinADomain() {
        let code: ErrorCode<ParseFailure> = .tooLong
        #expect(code == .tooLong)
        #expect(code != .timeout)
        #expect(code == ErrorCode<ParseFailure>("too long"))
        #expect(Set<ErrorCode<ParseFailure>>([.tooLong, .timeout, .tooLong]).count == 2)
    }

    @Test func describedByName() {
        #expect(ErrorCode<ParseFailure>.tooLong.description == "too long")
        #expect("\(ErrorCode<NetworkFailure>.timeout)" == "timeout")
    }

    @Test func matchedInASwitch() {
        func isTimeout(_ code: ErrorCode<ParseFailure>) -> Bool {
            switch code {
            case .timeout: true
            default: false
            }
        }
        #expect(isTimeout(.timeout))
        #expect(!isTimeout(.tooLong))
    }

    @Test func domainsAreDifferentTypes() {
        // Same name, different domains: not comparable at all (`==` would not compile), and distinct types.
        #expect(ErrorCode<ParseFailure>.self != ErrorCode<NetworkFailure>.self)
        #expect(ErrorCode<ParseFailure>.timeout.name == ErrorCode<NetworkFailure>.timeout.name)
    }
}
