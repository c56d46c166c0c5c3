/// `inferctl completion bash|zsh`: a completion script for the shell, to be sourced
/// (`source <(inferctl completion bash)`, or saved under /usr/share/bash-completion/completions/inferctl).
enum CompletionCommand {
    /// The subcommands and each one's flags, the one list both scripts are made from.
    static let words: [(command: String, flags: [String])] = [
        ("up", ["--runtime-dir", "--bin-dir", "--registry", "--port", "--metrics-port", "--env-file", "--watchdog-sec",
                "--stop-timeout", "--start-timeout", "--keys-file", "--first-key"]),
        ("status", ["--runtime-dir", "--json"]),
        ("keys", KeysOptions.subcommands + ["--scopes", "--file", "--json"] + KeySettings.flags),
        ("health", ["--url", "--json"]),
        ("metrics", ["--metrics-url", "--json"]),
        ("version", ["--url", "--json"]),
        ("config", ["check", "--env-file", "--registry", "--keys-file", "--bin-dir", "--json"]),
        ("completion", ["bash", "zsh"]),
        ("chat", ["-m", "--message", "--model", "--system", "--max-tokens", "--temperature", "--no-stream"] + clientFlags),
        ("complete", ["-p", "--prompt", "--model", "--max-tokens", "--temperature", "--no-stream"] + clientFlags),
        ("embed", ["--model"] + clientFlags),
        ("test-api", ["--model", "--embedding-model"] + clientFlags),
        ("bench", ["compare", "--concurrency", "--requests", "--duration", "--prompts", "--stream", "--max-tokens", "--model",
                   "--temperature", "--allow-cache", "--out"] + clientFlags),
        ("help", []),
    ]

    /// The flags every API client takes.
    static let clientFlags = ["--url", "--key", "--json", "--timeout"]

    static func run(shell: String) -> Int32 {
        switch shell {
        case "bash": print(bash, terminator: "")
        case "zsh": print(zsh, terminator: "")
        default: return InferctlExit.usage
        }
        return InferctlExit.success
    }

    static var bash: String {
        let cases = words.map { "        \($0.command)) words=\"\($0.flags.joined(separator: " "))\" ;;" }.joined(separator: "\n")
        return """
        # bash completion for inferctl (inferctl completion bash)
        _inferctl() {
            local cur=${COMP_WORDS[COMP_CWORD]} words
            if [ "$COMP_CWORD" -eq 1 ]; then
                COMPREPLY=($(compgen -W "\(words.map(\.command).joined(separator: " "))" -- "$cur"))
                return
            fi
            case "${COMP_WORDS[1]}" in
        \(cases)
                *) words="" ;;
            esac
            case "${COMP_WORDS[COMP_CWORD-1]}" in
                --env-file|--registry|--keys-file|--file|--prompts|--out) COMPREPLY=($(compgen -f -- "$cur")); return ;;
                --runtime-dir|--bin-dir) COMPREPLY=($(compgen -d -- "$cur")); return ;;
            esac
            COMPREPLY=($(compgen -W "$words" -- "$cur"))
        }
        complete -F _inferctl inferctl

        """
    }

    static var zsh: String {
        let cases = words.filter { !$0.flags.isEmpty }
            .map { "    \($0.command)) _values 'option' \($0.flags.map { "'\($0)'" }.joined(separator: " ")) ;;" }
            .joined(separator: "\n")
        return """
        #compdef inferctl
        # zsh completion for inferctl (inferctl completion zsh > "${fpath[1]}/_inferctl")
        _inferctl() {
          if (( CURRENT == 2 )); then
            _values 'command' \(words.map { "'\($0.command)'" }.joined(separator: " "))
            return
          fi
          case ${words[2]} in
        \(cases)
          esac
        }
        compdef _inferctl inferctl

        """
    }
}
