"""The end of every test peer's main: serve until SIGTERM, SIGINT or (with exit_with_stdin) the parent
closing our stdin, then close the listening socket. Imported by the peers in this folder."""

import signal
import sys
import threading


def serve_until_stopped(server, exit_with_stdin):
    def stop(*_):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    def watch_stdin():
        # The parent closing our stdin (or dying) ends us: no orphan servers after a crashed test.
        try:
            while sys.stdin.buffer.read(4096):
                pass
        except (OSError, ValueError):
            pass
        stop()

    if exit_with_stdin:
        threading.Thread(target=watch_stdin, daemon=True).start()
    server.serve_forever(poll_interval=0.1)
    server.server_close()
