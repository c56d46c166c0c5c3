/// A test harness could not do what a test asked (start a stack, run inferctl, find a tool).
public struct HarnessError: Error, CustomStringConvertible {
    public let description: String

    /// An error saying `description`.
    public init(_ description: String) {
        self.description = description
    }
}
