import Basics
import Foundation

/// `inferctl version`: inferctl's version, and the running stack's (frontd's `GET /`) when it answers.
enum VersionCommand {
    static func run(_ options: ClientOptions, environment: [String: String]) -> Int32 {
        let origin = HTTPFetch.origin(options.url, environment: environment)
        var stack: String?
        if let url = URL(string: origin + "/"), let reply = try? HTTPFetch.get(url, timeout: .seconds(2)), reply.status == 200,
           let object = (try? JSONSerialization.jsonObject(with: reply.body)) as? [String: Any] {
            stack = object["version"] as? String
        }
        if options.json {
            var object: [String: Any] = ["inferctl": InferVersion.string]
            object["stack"] = stack ?? NSNull()
            object["stack_url"] = origin
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
            FileHandle.standardOutput.write(data)
            print()
        } else {
            print("inferctl \(InferVersion.string)")
            print(stack.map { "stack at \(origin): infer \($0)" } ?? "stack at \(origin): not reachable")
        }
        return InferctlExit.success
    }
}
