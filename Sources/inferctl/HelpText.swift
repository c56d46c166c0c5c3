/// The text of `inferctl --help` and `inferctl help COMMAND`.
enum HelpText {
    /// The help for a command, or the overview.
    /// - Parameter topic: `up`, `status`, `keys`, or nil for the overview.
    /// - Returns: The text, ending with a newline.
    static func text(for topic: String?) -> String {
        if let client = clientText(for: topic) { return client }
        return switch topic {
        case "up": up
        case "status": status
        case "keys": keys
        case "health": health
        case "metrics": metrics
        case "version": version
        case "config": config
        case "completion": completion
        default: overview
        }
    }

    static let overview = """
        inferctl: run and inspect the infer inference gateway.

        Usage:
          inferctl up [options]        run every daemon in the foreground, as systemd would
          inferctl status [options]    show the daemons a running `inferctl up` supervises
          inferctl keys create|update|list|revoke ...
                                       manage the API keys frontd accepts
          inferctl health [--url URL]  frontd's readiness: dependencies and breakers
          inferctl metrics             a readable summary of metricsd's /metrics
          inferctl version             inferctl's version and the running stack's
          inferctl config check        validate the environment file, registry and keys file together
          inferctl completion bash|zsh print a shell completion script

        """ + clientCommands + """
          inferctl help [COMMAND]      show this help, or a command's

        On a machine with systemd, install the Debian package (make deb; docs/OPERATIONS.md) and use
        systemctl; inferctl status, health and metrics work the same there.

        Exit status:
          0   up: stopped by Ctrl-C/SIGTERM after every daemon stopped; status: a stack runs;
              keys: done
          1   keys: the change was refused (a name already used, no such key); health: not ready;
              metrics: metricsd answered an error; chat, complete, embed, bench: a request failed;
              test-api: a check failed
          3   status: no stack runs in the runtime directory; health, metrics and the API's clients
              (chat, complete, embed, test-api, bench): not reachable
          64  wrong command line
          71  a socket could not be created (port in use, another stack in the directory),
              or the keys file could not be read or written
          78  bad configuration (flags, environment file, registry, keys file, missing executables),
              or a daemon exited 78 because its configuration is wrong; config check: a check failed

        """

    static let up = """
        Usage: inferctl up [options]

        Runs the whole stack in the foreground without systemd, exactly as the units would: creates every
        listening socket itself (Unix sockets 0660 in the runtime directory, TCP on PORT and METRICS_PORT),
        starts metricsd, limitd, cached, one modeld per registry model, batchd and frontd with their sockets
        as fds 3.. (LISTEN_FDS, LISTEN_FDNAMES, LISTEN_PID) and NOTIFY_SOCKET, waits for READY=1 from each,
        restarts a daemon that fails (100 ms, doubling to 5 s; reset after 10 s up) or misses its watchdog,
        starts a daemon that exited cleanly again on its next connection, and keeps the sockets open all
        along, so clients wait in the backlog while a daemon restarts. A daemon exiting 78 (configuration
        error) stops the stack. Ctrl-C or SIGTERM stops the daemons one by one, frontd first (SIGTERM, then
        SIGKILL after the stop timeout); a second Ctrl-C kills them at once.

        Options:
          --runtime-dir DIR    Unix sockets, notify socket and state file
                               (INFER_RUNTIME_DIR, default /run/infer)
          --bin-dir DIR        the daemons' executables (default: the directory inferctl is in)
          --registry FILE      model registry (INFER_MODEL_REGISTRY, default /etc/infer/models.json)
          --port N             frontd's HTTP port (PORT, default 8080; 0 picks a free port)
          --metrics-port N     metricsd's Prometheus port (METRICS_PORT, default 9464; 0 picks one)
          --env-file FILE      KEY=VALUE lines (systemd EnvironmentFile= syntax) for every daemon;
                               repeatable, later files win; flags win over files, files over the
                               environment inferctl runs in
          --watchdog-sec SEC   WatchdogSec= of every daemon (default 10; 0 turns it off)
          --stop-timeout SEC   time a daemon may drain after SIGTERM before SIGKILL (default 30)
          --start-timeout SEC  time a daemon may take to send READY=1 (default 90)
          --keys-file FILE     the API keys file frontd reads (API_KEYS_FILE, default
                               /etc/infer/keys.json); see inferctl keys --help
          --first-key          when the keys file has no key, make one named dev with every scope
                               and show it, once, in the ready banner (what make run does)

        Every daemon gets inferctl's environment plus the environment files, with INFER_RUNTIME_DIR,
        INFER_MODEL_REGISTRY, PORT, METRICS_PORT and API_KEYS_FILE set to what the stack uses (INFER_MODEL
        for modeld), INFER_STATE_DIR (frontd's webhook journal) set to DIR/state unless it or STATE_DIRECTORY is set,
        and STATE_DIRECTORY=DIR/state/NAME for limitd and cached (as systemd's StateDirectory= would).
        inferctl logs JSON lines on stderr (LOG_LEVEL, ENABLE_STRUCTURED_LOGGING); the daemons' lines go
        to the same stderr. Once every daemon is ready it prints example curl commands on stdout.

        Example:
          swift build -c release
          .build/release/inferctl up --runtime-dir /tmp/infer --registry config/models.json \\
              --env-file /etc/infer/infer.env

        """

    static let status = """
        Usage: inferctl status [--runtime-dir DIR] [--json]

        Shows the daemons a running `inferctl up` supervises in the runtime directory (INFER_RUNTIME_DIR,
        default /run/infer): state, pid, restarts and last STATUS= line, read from DIR/inferctl.json.
        --json prints that file as it is. Exits 0 when a stack runs, 3 when none does.

        """

    static let health = """
        Usage: inferctl health [--url URL] [--json]

        Asks frontd (--url, else INFER_URL, else http://127.0.0.1:8080) for GET /health/ready and prints the
        verdict, each dependency (limitd, cached, batchd) and each deployment's circuit breaker. --json prints
        frontd's answer as it is. Exits 0 when ready, 1 when not ready, 3 when frontd cannot be reached.

        """

    static let metrics = """
        Usage: inferctl metrics [--metrics-url URL] [--json]

        Reads metricsd's exposition (--metrics-url, else INFER_METRICS_URL, else
        http://127.0.0.1:9464/metrics) and prints a summary: daemons up, requests and errors, latency and
        time-to-first-token percentiles (over the daemons' lifetime), tokens, cache hits and hit ratio, queue,
        breakers and spend per model. --json prints the same figures. Exits 0, or 3 when metricsd cannot be
        reached. For rates over time use Prometheus or the status page (http://HOST:9464/status).

        """

    static let version = """
        Usage: inferctl version [--url URL] [--json]

        Prints inferctl's version and, when frontd answers at --url (else INFER_URL, else
        http://127.0.0.1:8080), the running stack's. Exits 0.

        """

    static let config = """
        Usage: inferctl config check [--env-file FILE]... [--registry FILE] [--keys-file FILE] [--bin-dir DIR] [--json]

        Validates the configuration the daemons will read, together: each environment file (default
        /etc/infer/infer.env when it exists; problems name the file and line), the model registry
        (--registry, else INFER_MODEL_REGISTRY from the files, else /etc/infer/models.json; problems name
        the entry and field), the API keys file (--keys-file, else API_KEYS_FILE, else /etc/infer/keys.json),
        then every daemon's own settings (`DAEMON --check-config` with that environment, one modeld per
        deployment; problems name the variable). Exits 0 when every check holds, 78 otherwise.

        """

    static let completion = """
        Usage: inferctl completion bash|zsh

        Prints a completion script: `source <(inferctl completion bash)` in ~/.bashrc, or save it as
        /usr/share/bash-completion/completions/inferctl; for zsh, save `inferctl completion zsh` as _inferctl
        in a directory of $fpath.

        """

    static let keys = """
        Usage:
          inferctl keys create NAME --scopes SCOPES [LIMITS] [--file FILE]
          inferctl keys update NAME|ID [--scopes SCOPES] [LIMITS] [--file FILE]
          inferctl keys list [--json] [--file FILE] [--runtime-dir DIR]
          inferctl keys revoke NAME|ID [--file FILE]

        Manages the API keys file frontd reads (API_KEYS_FILE). frontd looks at the file at most once a
        second and re-reads it when it changed, so a new key works, and a revoked one stops working,
        without a restart. The file holds only each key's SHA-256, never the key.

        create   makes a key from the system's random number generator (sk-infer-...), adds its hash to
                 the file and prints the key on stdout, alone on its line: this is the only time it is
                 shown (KEY=$(inferctl keys create ...) keeps it). A note goes to stderr.
        update   changes what the flags give of a key (the others stay); frontd applies it within a second.
        list     names, ids, scopes, limits, budgets, this period's spend (asked of limitd on
                 DIR/limitd.sock; ? when it does not answer), reset and expiry times; never keys or hashes.
        revoke   removes the key with this name (or else this id).

        Options:
          --scopes SCOPES  comma-separated: infer (generation routes), embed (/v1/embeddings),
                           admin (cache and other administration); or none. Routes that need only a
                           valid key (/v1/models, metrics summaries) accept any key
          --file FILE      the keys file (API_KEYS_FILE, default /etc/infer/keys.json)
          --json           list: print JSON instead of a table
          --runtime-dir DIR  list: where limitd's socket is (INFER_RUNTIME_DIR, default /run/infer)

        LIMITS (each 0 or absent: limitd's default, RATE_LIMIT_RPM, _RPH, _TPM, _MAX_PARALLEL):
          --rpm N          requests per minute
          --rph N          requests per hour
          --tpm N          tokens (prompt + completion) per minute, reserved when a request is admitted
          --max-parallel N requests running at once
          --max-budget USD the most the key may spend per period (none: no budget), at the registry's prices
          --budget-duration P  how often the budget starts again: 1h, 1d, 7d, 30d, 1mo (counted from the
                           key's creation; none: never)
          --models LIST    the models the key may use, comma-separated (all: every model)
          --expires D      the key stops working D from now: 90d, 12h, 30m (never: it does not expire)
          --model-limit MODEL:rpm=N,rph=N,tpm=N,max-parallel=N
                           the key's own limits for one model, on top of its others (repeatable;
                           MODEL:none removes them)

        The file is replaced atomically (a temporary file, fsync, rename) under a lock on its directory.
        A new file is mode 0600; a replaced one keeps its owner, group and group-read bit, so a file made
        root:infer 0640 for the service stays readable by frontd.

        Example:
          inferctl keys create ci --scopes infer,embed --rpm 600 --file /etc/infer/keys.json
          inferctl keys create team-a --scopes infer --tpm 20000 --max-parallel 4 --max-budget 50 \\
              --budget-duration 30d --models smollm2 --expires 90d
          inferctl keys update team-a --max-budget 75 --model-limit smollm2:tpm=5000
          curl -s http://127.0.0.1:8080/v1/models -H "Authorization: Bearer $KEY"

        """
}
