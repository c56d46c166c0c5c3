import Glibc
import Settings

/// The listening sockets of a daemon, and the socket files it bound itself.
struct AcquiredListeners: Sendable {
    /// By ``SocketSpec/name``.
    var listeners: [String: [ListeningSocket]]
    /// Files to unlink at exit: only those the daemon bound, never systemd's.
    var ownedPaths: [String]
}

/// Matches a daemon's ``SocketSpec``s with the sockets systemd passed, binding the missing ones.
enum ListenerAcquisition {
    /// Gets every socket a daemon asked for.
    ///
    /// A spec takes the inherited sockets of its name (`FileDescriptorName=`). When exactly one spec and
    /// exactly one inherited name are left unmatched, they go together (a unit without
    /// `FileDescriptorName=` passes its sockets as the unit's name, or "unknown"), with a warning. A spec
    /// with nothing inherited is bound by the daemon; an inherited socket no spec wants is closed.
    /// - Throws: ``ListenerError`` when an inherited socket is of the wrong kind or a bind fails.
    static func acquire(_ specs: [SocketSpec], settings: Settings, logger: Logger) throws(ListenerError) -> AcquiredListeners {
        var inherited = try SocketActivation.listeners()
        var result = AcquiredListeners(listeners: [:], ownedPaths: [])
        var unmatched: [SocketSpec] = []
        for spec in specs {
            if let descriptors = inherited.removeValue(forKey: spec.name) {
                result.listeners[spec.name] = try adopt(descriptors, for: spec)
            } else {
                unmatched.append(spec)
            }
        }
        if unmatched.count == 1, inherited.count == 1, let spec = unmatched.first,
           let (otherName, descriptors) = inherited.first {
            logger.warn("systemd passed a socket named \"\(otherName)\", taking it as \"\(spec.name)\"; "
                + "set FileDescriptorName=\(spec.name) in the .socket unit")
            result.listeners[spec.name] = try adopt(descriptors, for: spec)
            inherited = [:]
            unmatched = []
        }
        for (name, descriptors) in inherited {
            logger.warn("closing sockets passed by systemd that this daemon does not use", [
                "name": .string(name), "fds": .string(descriptors.map(String.init).joined(separator: ",")),
            ])
            for descriptor in descriptors { close(descriptor) }
        }
        for spec in unmatched {
            let (descriptor, address) = try bind(spec, settings: settings)
            if case .unix = spec.endpoint { result.ownedPaths.append(address) }
            result.listeners[spec.name] = [
                ListeningSocket(name: spec.name, fileDescriptor: descriptor, activated: false, address: address),
            ]
        }
        for (name, sockets) in result.listeners.sorted(by: { $0.key < $1.key }) {
            for socket in sockets {
                logger.info("listening", [
                    "socket": .string(name), "address": .string(socket.address),
                    "fd": LogValue(socket.fileDescriptor), "activated": .bool(socket.activated),
                ])
            }
        }
        return result
    }

    private static func adopt(_ descriptors: [Int32], for spec: SocketSpec) throws(ListenerError) -> [ListeningSocket] {
        var adopted: [ListeningSocket] = []
        for descriptor in descriptors {
            try SocketActivation.validate(descriptor, for: spec)
            SocketBinder.prepare(descriptor)
            adopted.append(ListeningSocket(
                name: spec.name, fileDescriptor: descriptor, activated: true,
                address: SocketBinder.localAddress(descriptor)))
        }
        return adopted
    }

    private static func bind(_ spec: SocketSpec, settings: Settings) throws(ListenerError) -> (Int32, String) {
        switch spec.endpoint {
        case .unix(let fileName):
            return try SocketBinder.bindUnix(
                directory: settings[RuntimeSettings.runtimeDirectory], fileName: fileName)
        case .tcp(let port, let bindAddress):
            return try SocketBinder.bindTCP(host: settings[bindAddress], port: settings[port])
        }
    }
}
