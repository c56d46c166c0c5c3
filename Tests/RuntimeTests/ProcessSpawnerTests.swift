import Foundation
import Glibc
import IPC
import Spawn
import Testing

/// Reads a descriptor to end-of-file.
private func readAll(_ descriptor: Int32) -> String {
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while case let count = read(descriptor, &buffer, buffer.count), count > 0 { bytes += buffer[0..<count] }
    return String(decoding: bytes, as: UTF8.self)
}

/// Runs `/bin/sh -c script` and returns its exit status and stdout.
private func shell(
    _ script: String, environment: [String: String] = [:], descriptors: [Int32: Int32] = [:]
) throws -> (TerminationStatus, String) {
    let out = try ProcessSpawner.makePipe()
    let child = try ProcessSpawner.spawn(
        "/bin/sh", arguments: ["-c", script], environment: environment, descriptors: descriptors,
        standardOutput: .descriptor(out.write))
    close(out.write)
    let text = readAll(out.read)
    close(out.read)
    return (child.wait(), text)
}

@Suite("Process spawner")
struct ProcessSpawnerTests {
    @Test("exit statuses and the environment are passed exactly")
    func statusAndEnvironment() throws {
        let (status, output) = try shell("echo \"$GREETING\"; exit 7", environment: ["GREETING": "hi there"])
        #expect(status == .exited(7))
        #expect(output == "hi there\n")
        let (_, inherited) = try shell("echo \"[$HOME]\"")
        #expect(inherited == "[]\n", "nothing is inherited implicitly")
    }

    @Test("descriptors land at their numbers even when sources and targets cross")
    func crossedDescriptors() throws {
        let first = try ProcessSpawner.makePipe()
        let second = try ProcessSpawner.makePipe()
        _ = write(first.write, "A\n", 2)
        _ = write(second.write, "B\n", 2)
        close(first.write)
        close(second.write)
        defer {
            close(first.read)
            close(second.read)
        }
        // Child fd 3 ← second, 4 ← first, and the other way round: the crossing a plain dup2 sequence breaks.
        let (_, one) = try shell("read x <&3; read y <&4; echo \"$x$y\"", descriptors: [3: second.read, 4: first.read])
        #expect(one == "BA\n")
    }

    @Test("descriptors not asked for are closed in the child, close-on-exec or not")
    func noLeaks() throws {
        var ends: [Int32] = [-1, -1]
        #expect(pipe(&ends) == 0) // deliberately without O_CLOEXEC
        defer {
            close(ends[0])
            close(ends[1])
        }
        // `[` is a shell builtin, so /proc/$$/fd is the shell's own table (no pipeline fds in between).
        let script = "for n in \(ends[0]) \(ends[1]) 3 4 5; do [ -e /proc/$$/fd/$n ] && echo \"open $n\"; done; true"
        let (status, output) = try shell(script)
        #expect(status == .exited(0))
        #expect(output == "", "only stdio is open in the child: \(output)")
    }

    @Test("a blocked or ignored signal in the parent is not passed on to the child")
    func signalStateReset() throws {
        var mask = sigset_t()
        sigemptyset(&mask)
        sigaddset(&mask, SIGTERM)
        var previous = sigset_t()
        pthread_sigmask(SIG_BLOCK, &mask, &previous)
        defer { pthread_sigmask(SIG_SETMASK, &previous, nil) }
        let child = try ProcessSpawner.spawn("/bin/sleep", arguments: ["30"], environment: [:])
        usleep(100_000)
        #expect(child.signal(SIGTERM))
        #expect(child.wait(timeout: .seconds(5)) == .signaled(SIGTERM))
        #expect(!child.signal(SIGTERM), "a reaped child is never signalled")
    }

    @Test("terminate escalates to SIGKILL after the grace period")
    func terminate() throws {
        let child = try ProcessSpawner.spawn("/bin/sh", arguments: ["-c", "trap '' TERM; sleep 30"], environment: [:])
        usleep(100_000)
        #expect(child.terminate(grace: .milliseconds(300)) == .signaled(SIGKILL))
    }

    @Test("a program that does not exist is an error naming it")
    func missingProgram() {
        do {
            _ = try ProcessSpawner.spawn("/nonexistent/program", environment: [:])
            Issue.record("spawned a missing program")
        } catch {
            #expect(error.description.contains("/nonexistent/program"))
        }
    }
}
