import Foundation

/// A private mount namespace in which one file is bind-mounted over another for a program and its
/// children: what systemd's `BindReadOnlyPaths=SOURCE:TARGET` does for a service (a CA bundle over the
/// system's, so FoundationNetworking trusts one more CA in that service alone).
public enum MountNamespace {
    /// Whether this process may make one: root, with `unshare --mount` allowed (not in every container).
    public static let available: Bool = {
        guard geteuid() == 0, FileManager.default.isExecutableFile(atPath: "/usr/bin/unshare") else { return false }
        let probe = try? runCapturing("/usr/bin/unshare", ["--mount", "--propagation", "private", "/bin/true"],
                                      timeout: .seconds(30))
        return probe?.status == 0
    }()

    /// The command that runs a program with `source` bind-mounted over `target`: append the program and
    /// its arguments. It execs them in the same process (unshare without `--fork`, `exec` in the shell),
    /// so the program's pid is the launcher's and signals reach it.
    public static func binding(_ source: String, over target: String) -> [String] {
        ["/usr/bin/unshare", "--mount", "--propagation", "private", "/bin/sh", "-c",
         #"mount --bind "$1" "$2" && shift 2 && exec "$@""#, "sh", source, target]
    }
}
