/// The commands run on every new connection before any caller's — AUTH, SELECT, CLIENT SETNAME, as
/// configured — and the check of their replies.
struct RedisLogin {
    private let steps: [(label: String, command: RedisCommand)]

    init(url: RedisURL, clientName: String?) {
        var steps: [(label: String, command: RedisCommand)] = []
        if let password = url.password {
            if let username = url.username {
                steps.append(("AUTH as user '\(username)'", RedisCommand("AUTH", username, password)))
            } else {
                steps.append(("AUTH", RedisCommand("AUTH", password)))
            }
        }
        if url.database != 0 {
            steps.append(("SELECT \(url.database)", RedisCommand("SELECT", url.database)))
        }
        if let clientName {
            steps.append(("CLIENT SETNAME \(clientName)", RedisCommand("CLIENT", "SETNAME", clientName)))
        }
        self.steps = steps
    }

    /// How many replies are due.
    var replyCount: Int { steps.count }

    /// All the commands, back to back: sent in one write.
    var request: [UInt8] { steps.flatMap(\.command.encoded) }

    /// Throws on the first error reply, naming the step (never the password) and the server's message.
    func check(_ replies: [RESPValue], endpoint: String) throws(RedisError) {
        for (step, reply) in zip(steps, replies) {
            if case .error(let message) = reply {
                throw RedisError(.handshakeFailed, "\(step.label) refused by \(endpoint): \(message)")
            }
        }
    }
}
