#!/usr/bin/env python3
"""Runs a command on a pseudo-terminal and plays a script against it, like a person at a terminal.

    pty_session.py [--timeout SEC] [--columns N] STEPS.json -- COMMAND [ARGS...]

The command gets a new session whose controlling terminal is the pty (stdin, stdout and stderr all on
it), so Ctrl-C typed as "\\x03" reaches it as SIGINT and isatty() is true, as in a real terminal. Its
environment is this script's. STEPS.json is a list of steps, each one of:
    {"expect": TEXT, "timeout": SEC}   wait until TEXT appears in the output after the previous match
                                       (default timeout 30 s)
    {"send": TEXT}                     type TEXT ("\\u0003" is Ctrl-C, "\\u0004" Ctrl-D)
    {"sleep": SEC}                     wait
    {"wait_exit": SEC}                 wait for the command to exit
Prints one JSON object on stdout: {"exit_status": int or null, "signal": int or null, "output": the
terminal's whole output (UTF-8, invalid bytes replaced), "failed_step": index or null, "reason": why}.
Exits 0 when every step passed, 1 otherwise; the command is killed if it outlives --timeout.
Standard library only.
"""
from __future__ import annotations

import argparse
import fcntl
import json
import os
import pty
import select
import signal
import struct
import sys
import termios
import time


def main(argv: list[str]) -> int:
    if "--" not in argv:
        print("usage: pty_session.py [--timeout SEC] [--columns N] STEPS.json -- COMMAND [ARGS...]", file=sys.stderr)
        return 2
    split = argv.index("--")
    parser = argparse.ArgumentParser()
    parser.add_argument("--timeout", type=float, default=120)
    parser.add_argument("--columns", type=int, default=120)
    parser.add_argument("steps")
    args = parser.parse_args(argv[:split])
    command = argv[split + 1:]
    with open(args.steps) as f:
        steps = json.load(f)

    pid, fd = pty.fork()
    if pid == 0:
        try:
            os.execvp(command[0], command)
        finally:
            os._exit(127)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, args.columns, 0, 0))

    output = bytearray()
    cursor = 0          # where the next "expect" starts looking
    status = None
    deadline = time.monotonic() + args.timeout

    def pump(wait: float) -> None:
        """Reads what the command wrote within `wait` seconds; notes its exit."""
        nonlocal status
        ready, _, _ = select.select([fd], [], [], max(0.0, wait))
        if ready:
            try:
                data = os.read(fd, 65536)
            except OSError:  # EIO: the command closed the terminal
                data = b""
            output.extend(data)
        if status is None:
            done, raw = os.waitpid(pid, os.WNOHANG)
            if done:
                status = raw

    failed, reason = None, ""
    for index, step in enumerate(steps):
        if "expect" in step:
            text = step["expect"].encode()
            until = min(deadline, time.monotonic() + float(step.get("timeout", 30)))
            while output.find(text, cursor) < 0 and time.monotonic() < until and status is None:
                pump(0.05)
            pump(0.05)
            found = output.find(text, cursor)
            if found < 0:
                failed, reason = index, f"{step['expect']!r} did not appear"
                break
            cursor = found + len(text)
        elif "send" in step:
            os.write(fd, step["send"].encode())
        elif "sleep" in step:
            until = time.monotonic() + float(step["sleep"])
            while time.monotonic() < until:
                pump(until - time.monotonic())
        elif "wait_exit" in step:
            until = min(deadline, time.monotonic() + float(step["wait_exit"]))
            while status is None and time.monotonic() < until:
                pump(0.05)
            if status is None:
                failed, reason = index, "the command did not exit"
                break
    # Drain what is left, and end the command if it is still there.
    end = time.monotonic() + 1
    while time.monotonic() < end and status is None and failed is None:
        pump(0.05)
    if status is None:
        os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
    try:
        while True:
            ready, _, _ = select.select([fd], [], [], 0.05)
            if not ready:
                break
            data = os.read(fd, 65536)
            if not data:
                break
            output.extend(data)
    except OSError:
        pass
    print(json.dumps({
        "exit_status": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
        "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
        "output": output.decode("utf-8", "replace"),
        "failed_step": failed,
        "reason": reason,
    }))
    return 0 if failed is None else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
