#!/usr/bin/env python3
"""Runs llama.cpp's OpenAI-compatible server (PyPI `llama-cpp-python[server]`) as a real upstream peer.

    .venv-peers/bin/python tests-python/llama_server.py [--port N] [--model GGUF] [--alias NAME] ...

(`scripts/install-upstream-peers.sh` makes .venv-peers; run with another python, this script re-runs
itself with .venv-peers/bin/python.) It binds 127.0.0.1:PORT itself (PORT 0, the default, picks a free
port, with no race: the bound socket is handed to uvicorn), loads the model, waits until GET /v1/models
answers with the alias, then prints the port alone on one line of stdout and flushes. Everything else
(llama.cpp's load log, uvicorn's access log) goes to stderr. SIGTERM or SIGINT: uvicorn's graceful
shutdown, then exit status 0. If the server cannot start, or /v1/models does not answer in
--ready-timeout seconds, it exits 1 having printed nothing on stdout.

Defaults serve $INFER_MODELS_DIR (else models/)/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf as "smollm2" with n_ctx 2048, one thread,
seed 0, no prompt cache, chat format from the GGUF's own template (ChatML), and three settings a
gateway test needs (see docs/peers/llama-server.md):
  - no reuse of the previous request's KV cache for a shared prompt prefix (--keep-prefix-reuse keeps
    it): with it, a temperature-0 answer depends on the request before (see disable_prefix_reuse);
  - embeddings on (`embedding=True`) with mean pooling (`--pooling`, set as the GGUF key
    llama.pooling_type): the same model then also answers /v1/embeddings with one 576-dim vector per
    input (not normalized), and chat and completions answer exactly as without it;
  - interrupt_requests off: by default the server ends a running stream early (with [DONE]) as soon as
    another request arrives, which would cut a gateway's concurrent streams short.
The server runs one request at a time (a global lock), so concurrent requests queue.
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import signal
import socket
import sys
import threading
import time
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The models folder the Makefile and the tests use (INFER_MODELS_DIR), else the checkout's own.
MODELS_DIR = os.environ.get("INFER_MODELS_DIR") or os.path.join(REPO, "models")
DEFAULT_MODEL = os.path.join(MODELS_DIR, "smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")
VENV = os.path.join(REPO, ".venv-peers")
VENV_PYTHON = os.path.join(VENV, "bin", "python")
# llama.cpp's enum llama_pooling_type; set through the GGUF key `llama.pooling_type` (a kv override),
# since the server's settings have no pooling option of their own.
POOLING = {"none": 0, "mean": 1, "cls": 2, "last": 3}


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 (default): a free port")
    p.add_argument("--model", default=os.environ.get("LLAMA_SERVER_MODEL", DEFAULT_MODEL), help="GGUF file")
    p.add_argument("--alias", default="smollm2", help="model name served and listed by /v1/models")
    p.add_argument("--n-ctx", type=int, default=2048)
    p.add_argument("--threads", type=int, default=1, help="n_threads and n_threads_batch")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-embedding", action="store_true", help="do not enable /v1/embeddings")
    p.add_argument("--pooling", choices=sorted(POOLING), default="mean",
                   help="how /v1/embeddings pools the token vectors (default mean; none: one vector per token)")
    p.add_argument("--interrupt-requests", action="store_true",
                   help="keep the server's default of cutting a running stream when another request arrives")
    p.add_argument("--keep-prefix-reuse", action="store_true",
                   help="keep the server's reuse of the previous request's KV cache for a shared prompt prefix "
                        "(makes temperature-0 output depend on the request before)")
    p.add_argument("--api-key", default=None, help="require Authorization: Bearer KEY")
    p.add_argument("--ready-timeout", type=float, default=120.0)
    p.add_argument("--quiet", action="store_true", help="no llama.cpp load log and no access log")
    p.add_argument("--exit-with-stdin", action="store_true",
                   help="exit when stdin reaches EOF (a test process that ends, or dies, takes the server along)")
    return p.parse_args(argv)


def log(msg: str) -> None:
    print(f"llama_server: {msg}", file=sys.stderr, flush=True)


def wait_ready(base: str, alias: str, api_key: str | None, deadline: float, server) -> bool:
    req = urllib.request.Request(base + "/v1/models")
    if api_key:
        req.add_header("Authorization", f"Bearer {api_key}")
    while time.monotonic() < deadline and not server.should_exit:
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                ids = [m.get("id") for m in json.load(r).get("data", [])]
                if r.status == 200 and alias in ids:
                    return True
        except OSError:
            pass
        time.sleep(0.05)
    return False


def disable_prefix_reuse() -> None:
    """Every completion evaluates its whole prompt from position 0, as the first request after start does.

    Stock llama-cpp-python keeps the last request's tokens in the KV cache and, when the next prompt shares
    a prefix, evaluates only the rest (for an identical prompt: its last token alone). The logits of a token
    evaluated alone and of the same token inside a batch differ in the last bits (different kernels), which
    is enough to change a greedy (temperature 0) continuation: the same request then answers differently
    depending on what came before it. Forgetting the cached tokens (Llama.reset, as its embed() does after
    each call) makes each answer depend on the request alone."""
    from llama_cpp import Llama

    generate = Llama.generate

    def generate_from_scratch(self, tokens, *args, **kwargs):
        self.reset()
        return generate(self, tokens, *args, **kwargs)

    Llama.generate = generate_from_scratch


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    try:
        import uvicorn
        from llama_cpp.server.app import create_app
        from llama_cpp.server.settings import ModelSettings, ServerSettings
    except ImportError:
        if os.path.realpath(sys.prefix) != os.path.realpath(VENV) and os.access(VENV_PYTHON, os.X_OK):
            os.execv(VENV_PYTHON, [VENV_PYTHON, os.path.abspath(__file__), *argv])
        log("llama-cpp-python[server] is not importable: run scripts/install-upstream-peers.sh")
        return 1
    if not args.keep_prefix_reuse:
        disable_prefix_reuse()
    if not os.path.isfile(args.model):
        log(f"no model file {args.model} (run `make models`)")
        return 1

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((args.host, args.port))
    except OSError as e:
        log(f"cannot bind {args.host}:{args.port}: {e}")
        return 1
    sock.listen(128)
    port = sock.getsockname()[1]

    started = time.monotonic()
    server_settings = ServerSettings(
        host=args.host, port=port, api_key=args.api_key,
        interrupt_requests=args.interrupt_requests,
    )
    model_settings = ModelSettings(
        model=args.model, model_alias=args.alias, n_ctx=args.n_ctx,
        n_threads=args.threads, n_threads_batch=args.threads, seed=args.seed,
        embedding=not args.no_embedding, cache=False, verbose=not args.quiet,
        kv_overrides=[f"llama.pooling_type=int:{POOLING[args.pooling]}"],
    )
    try:
        app = create_app(server_settings=server_settings, model_settings=[model_settings])  # loads the model
    except Exception as e:  # a bad GGUF, out of memory, ...
        log(f"the server could not load {args.model}: {e}")
        return 1
    loaded = time.monotonic()

    # uvicorn's default logging sends the access log to stdout: keep stdout for the port alone.
    log_config = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    for handler in log_config["handlers"].values():
        handler["stream"] = "ext://sys.stderr"
    config = uvicorn.Config(app, log_config=log_config, log_level="warning" if args.quiet else "info",
                            access_log=not args.quiet, timeout_graceful_shutdown=10)
    server = uvicorn.Server(config)
    base = f"http://{args.host}:{port}"

    def announce() -> None:
        if wait_ready(base, args.alias, args.api_key, started + args.ready_timeout, server):
            log(f"ready at {base} (model {args.alias}: loaded in {loaded - started:.2f} s, "
                f"answering in {time.monotonic() - started:.2f} s)")
            print(port, flush=True)
        elif not server.should_exit:
            log(f"{base}/v1/models did not answer within {args.ready_timeout} s")
            failed.set()
            server.should_exit = True

    # uvicorn catches SIGTERM/SIGINT, shuts down gracefully, then re-raises the signal with the handler
    # that was installed before it ran: make that handler a clean exit.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, lambda *_: sys.exit(0))
    failed = threading.Event()
    threading.Thread(target=announce, daemon=True).start()
    if args.exit_with_stdin:
        def watch_stdin() -> None:
            while sys.stdin.buffer.read(4096):
                pass
            server.should_exit = True
            time.sleep(3)  # graceful first; then go, whatever is still running
            os._exit(0)
        threading.Thread(target=watch_stdin, daemon=True).start()
    server.run(sockets=[sock])
    return 1 if failed.is_set() or not server.started else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
