import APIKeys
import Foundation
import IPC

/// What `inferctl keys ...` was asked to do.
enum KeysAction: Equatable {
    /// `keys create NAME --scopes LIST [--rpm N ...]`: a new key, printed once.
    case create(name: String, scopes: Set<APIKeyScope>, settings: KeySettings)
    /// `keys update NAME|ID [--rpm N ...]`: changes a key's limits, budget, models, expiry or scopes.
    case update(nameOrID: String, settings: KeySettings)
    /// `keys list [--json] [--runtime-dir DIR]`: names, ids, scopes, limits, budgets and limitd's spend; never secrets.
    case list(json: Bool, runtimeDirectory: String?)
    /// `keys revoke NAME|ID`: removes a key.
    case revoke(nameOrID: String)
}

/// The command line of `inferctl keys`: the action and the keys file.
struct KeysOptions: Equatable {
    var action: KeysAction
    /// `--file PATH`: the keys file (`API_KEYS_FILE`, default /etc/infer/keys.json).
    var file: String?

    /// The subcommands, for help and errors.
    static let subcommands = ["create", "update", "list", "revoke"]

    /// Parses the arguments after `keys`.
    /// - Parameter arguments: `create NAME --scopes infer,embed --rpm 60 --file keys.json`, ...
    /// - Returns: The options.
    /// - Throws: ``InferctlError`` of kind `.usage` naming what is wrong.
    static func parse(_ arguments: [String]) throws(InferctlError) -> KeysOptions {
        guard let subcommand = arguments.first else {
            throw .usage("keys needs a subcommand: \(subcommands.joined(separator: ", "))")
        }
        var rest = Array(arguments.dropFirst())
        let command = "keys " + subcommand
        switch subcommand {
        case "create":
            let name = try positional(&rest, what: "NAME", command: command)
            guard APIKeyEntry.isValidName(name) else {
                throw .usage("key name \"\(name)\": expected 1 to 64 of A-Z a-z 0-9 . _ - (starting with a letter or digit)")
            }
            let (settings, file) = try settingsFlags(rest, command: command)
            guard let scopes = settings.scopes else {
                throw .usage("keys create needs --scopes, a comma-separated list of \(scopeChoices)")
            }
            return KeysOptions(action: .create(name: name, scopes: scopes, settings: settings), file: file)
        case "update":
            let target = try positional(&rest, what: "NAME|ID", command: command)
            let (settings, file) = try settingsFlags(rest, command: command)
            guard settings != KeySettings() else {
                throw .usage("keys update needs something to change: \((["--scopes"] + KeySettings.flags).joined(separator: ", "))")
            }
            return KeysOptions(action: .update(nameOrID: target, settings: settings), file: file)
        case "list":
            let list = try FlagReader.read(rest, command: command, switches: ["--json"],
                                           into: (json: false, file: String?.none, runtimeDirectory: String?.none)) { list, flag throws(InferctlError) in
                switch flag.name {
                case "--json": list.json = true
                case "--file": list.file = try flag.nonEmpty()
                case "--runtime-dir": list.runtimeDirectory = try flag.nonEmpty()
                default: return false
                }
                return true
            }
            return KeysOptions(action: .list(json: list.json, runtimeDirectory: list.runtimeDirectory), file: list.file)
        case "revoke":
            let target = try positional(&rest, what: "NAME|ID", command: command)
            let file = try FlagReader.read(rest, command: command, into: String?.none) { file, flag throws(InferctlError) in
                guard flag.name == "--file" else { return false }
                file = try flag.nonEmpty()
                return true
            }
            return KeysOptions(action: .revoke(nameOrID: target), file: file)
        default:
            throw .usage("unknown keys subcommand \"\(subcommand)\"; subcommands are \(subcommands.joined(separator: ", "))")
        }
    }

    /// The flags of create and update: `--scopes`, ``KeySettings/flags``, `--file`.
    private static func settingsFlags(_ arguments: [String], command: String) throws(InferctlError) -> (KeySettings, String?) {
        var settings = KeySettings()
        var file: String?
        var flags = FlagReader(arguments, command: command)
        while let flag = try flags.next() {
            switch flag.name {
            case "--scopes": settings.scopes = try parseScopes(flag.nonEmpty())
            case "--file": file = try flag.nonEmpty()
            default: if try !settings.read(flag) { throw flag.unknown() }
            }
        }
        return (settings, file)
    }

    /// "infer, embed or admin".
    static var scopeChoices: String {
        let names = APIKeyScope.allCases.map(\.rawValue)
        return names.dropLast().joined(separator: ", ") + " or " + (names.last ?? "")
    }

    /// `infer,embed` as scopes; `none` for a key that may call only the routes any valid key may.
    static func parseScopes(_ text: String) throws(InferctlError) -> Set<APIKeyScope> {
        if text == "none" { return [] }
        var scopes = Set<APIKeyScope>()
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            let word = item.trimmingCharacters(in: .whitespaces)
            guard let scope = APIKeyScope(rawValue: word) else {
                throw .usage("unknown scope \"\(word)\" in --scopes \(text); expected a comma-separated list of \(scopeChoices), or none")
            }
            scopes.insert(scope)
        }
        return scopes
    }

    /// The positional argument right after the subcommand (`create NAME ...`, `revoke NAME ...`); a stray
    /// one later is refused by the flag reader.
    private static func positional(_ arguments: inout [String], what: String, command: String) throws(InferctlError) -> String {
        guard let first = arguments.first, !first.hasPrefix("-") else {
            throw .usage("\(command) needs a \(what) first: inferctl \(command) \(what) [options]")
        }
        arguments.removeFirst()
        return first
    }
}
