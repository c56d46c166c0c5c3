"""A small scriptable OpenAI-compatible upstream for fault injection (standard library only).

    scripted_upstream.py [--host 127.0.0.1] [--port 0] [--model NAME] [--api-key KEY]
                         [--tls-cert FILE --tls-key FILE] [--exit-with-stdin]

The first line on stdout is the port it listens on (useful with --port 0); everything else goes to
stderr. It serves HTTP/1.1 with keep-alive (or HTTPS with --tls-cert/--tls-key), one thread per
connection, and stops on SIGTERM/SIGINT, or with --exit-with-stdin when its stdin reaches EOF (so a
test process that dies takes its servers along).

It is a test tool, not a mock of any one server: it speaks the OpenAI shapes that vLLM, TGI,
llama.cpp's server and Ollama share, and does on purpose what a faulty upstream does by accident.

Routes (under /v1, as an OpenAI base URL is):
    POST /v1/chat/completions   JSON, or SSE with "stream": true (a usage chunk when
                                "stream_options": {"include_usage": true})
    POST /v1/completions        likewise, text completions
    POST /v1/embeddings         one 8-number vector per input
    GET  /v1/models             the one model (--model, default "scripted")
With --api-key, every /v1 route wants `Authorization: Bearer KEY` and answers 401 otherwise.

What a request gets is a *script*, a JSON object, taken from (first match wins):
    1. the request's `X-Script` header (a JSON object, or just a behaviour name);
    2. the request body's "x_script" field (the same);
    3. the next entry of the queue that `POST /control {"next": [...]}` filled;
    4. the default, which `POST /control {"default": {...}}` sets ({"behaviour": "ok"} at start).
GET /v1/models — a gateway's health probe, which may come at any moment — takes neither the queue
nor the default: after its header, it gets the models script that `POST /control {"models": {...}}`
sets ({"behaviour": "ok"} at start), so a test can fail the probe alone, or the rest alone.
Script keys (all optional except "behaviour"):
    behaviour    "ok"        answer normally
                 "error"     answer `status` (default 500) with an OpenAI error body whose message is
                             `message`, code `code` (default the status) and type `type` (default
                             "scripted_error"), and `Retry-After: retry_after` when that is given
                 "hang"      read the request, then send nothing at all until the client goes away
                             (or `max_hang` seconds, default 120, pass)
                 "stall"     send the head (and `chunks` events of a stream), then nothing until the
                             client goes away
                 "cut"       a stream: `chunks` events, then the connection is dropped without the
                             last chunk or [DONE]; a JSON answer: half its body, then dropped
                 "close"     close the connection without answering
                 "garbage"   answer 200 with a body that is not JSON (or an event stream of it)
    delay        seconds to wait before the first byte (any behaviour)
    interval     seconds between stream events (default 0)
    chunks       number of content events of a stream (default 4)
    done         false to end a stream cleanly without `data: [DONE]`
    format       "json" to answer JSON even when the request asked for a stream
    gate         true: a stream stops after its first event until `POST /control/open-gate` (so a
                 test can see that event arrive while the rest has provably not been sent)
    usage        false to leave "usage" out of a JSON answer
    sse          style of the event stream, any of: {"crlf": true} (CRLF line ends),
                 {"comments": true} (`: keep-alive` comment lines between events),
                 {"multiline": true} (each event's JSON split over two `data:` lines),
                 {"split": true} (each event written in two pieces, mid-line, 20 ms apart)

Control API (never counted as upstream requests):
    GET  /control/stats    {"requests", "by_path", "active", "max_active", "connections",
                            "disconnects", "completed", "last_request": {"path", "headers", "body"}}
                           `disconnects` counts responses the client abandoned before they were done
                           (a broken pipe, a reset, or the client closing while the server waited).
    POST /control          {"default": SCRIPT} and/or {"next": [SCRIPT, ...]} (appended to the queue)
                           and/or {"models": SCRIPT} (what GET /v1/models gets)
    POST /control/open-gate  lets every stream waiting at its gate go on (and later ones pass)
    POST /control/reset    statistics back to zero, queue emptied, default and models back to "ok", gate closed
"""

import argparse
import json
import select
import socket
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from serve_until_stopped import serve_until_stopped

DEFAULT_SCRIPT = {"behaviour": "ok"}
MAX_BODY = 16 * 1024 * 1024  # a request body larger than this is refused with 413


class State:
    """Everything the handlers share, behind one lock."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self.default = dict(DEFAULT_SCRIPT)
        self.models = dict(DEFAULT_SCRIPT)
        self.queue: list[dict] = []
        self.requests = 0
        self.by_path: dict[str, int] = {}
        self.active = 0
        self.max_active = 0
        self.connections = 0
        self.disconnects = 0
        self.completed = 0
        self.last_request: dict | None = None
        self.gate = threading.Event()

    def stats(self) -> dict:
        return {
            "requests": self.requests, "by_path": dict(self.by_path), "active": self.active,
            "max_active": self.max_active, "connections": self.connections,
            "disconnects": self.disconnects, "completed": self.completed,
            "last_request": self.last_request,
        }


STATE = State()
MODEL = "scripted"
API_KEY: str | None = None


class ClientGone(Exception):
    """The client closed or reset the connection before the answer was done."""


def parse_script(value) -> dict | None:
    """A script from a header or body value: a JSON object, or a bare behaviour name."""
    if value is None:
        return None
    if isinstance(value, dict):
        return value
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("{"):
            try:
                parsed = json.loads(text)
            except ValueError:
                return None
            return parsed if isinstance(parsed, dict) else None
        return {"behaviour": text} if text else None
    return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real upstreams do
    server_version = "scripted-upstream/1"

    def log_message(self, format: str, *args) -> None:  # quiet: tests read stdout/stderr
        pass

    def setup(self) -> None:
        super().setup()
        with STATE.lock:
            STATE.connections += 1

    # ── plumbing ──────────────────────────────────────────────────────────────────────────────────

    def client_gone(self) -> bool:
        """True when the peer has closed (EOF) or reset the connection; never blocks."""
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            if not readable:
                return False
            if isinstance(self.connection, ssl.SSLSocket):
                # A TLS close_notify or EOF: pending() says whether decrypted bytes wait.
                if self.connection.pending():
                    return False
                return self.connection.recv(1) == b""
            return self.connection.recv(1, socket.MSG_PEEK) == b""
        except (OSError, ssl.SSLError, ValueError):
            return True

    def wait(self, seconds: float) -> None:
        """Sleeps, but notices the client leaving (then raises ClientGone)."""
        end = time.monotonic() + seconds
        while True:
            if self.client_gone():
                raise ClientGone()
            left = end - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(left, 0.02))

    def wait_for_gate(self, limit: float) -> None:
        """Waits until a test opens the gate (or `limit` seconds pass), noticing the client leaving."""
        end = time.monotonic() + limit
        while not STATE.gate.is_set() and time.monotonic() < end:
            self.wait(0.02)

    def write(self, data: bytes) -> None:
        if self.client_gone():
            raise ClientGone()
        try:
            self.wfile.write(data)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError) as error:
            raise ClientGone() from error

    def head(self, status: int, content_type: str, length: int | None, extra: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        if length is None:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(length))
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()  # buffered: write() flushes it with the first body bytes

    def send_json(self, status: int, body: dict, extra: dict | None = None) -> None:
        data = json.dumps(body).encode()
        self.head(status, "application/json", len(data), extra)
        self.write(data)

    def chunk(self, data: bytes) -> None:
        self.write(b"%x\r\n%s\r\n" % (len(data), data))

    def drop(self) -> None:
        """Closes the connection at once, mid-answer."""
        self.close_connection = True
        try:
            self.wfile.flush()
        except OSError:
            pass
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # ── requests ──────────────────────────────────────────────────────────────────────────────────

    def do_GET(self) -> None:
        self.dispatch(None)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self.send_json(413, {"error": {"message": "request body too large", "type": "invalid_request_error"}})
            return
        raw = self.rfile.read(length) if length else b""
        self.dispatch(raw)

    def dispatch(self, raw: bytes | None) -> None:
        path = self.path.split("?", 1)[0]
        if path.startswith("/control"):
            self.control(path, raw)
            return
        body = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
        with STATE.lock:
            STATE.requests += 1
            STATE.by_path[path] = STATE.by_path.get(path, 0) + 1
            STATE.active += 1
            STATE.max_active = max(STATE.max_active, STATE.active)
            STATE.last_request = {
                "path": path, "method": self.command,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": body,
            }
            script = (parse_script(self.headers.get("X-Script"))
                      or parse_script(body.get("x_script") if isinstance(body, dict) else None))
            if script is None and path == "/v1/models":
                script = dict(STATE.models)
            elif script is None:
                script = STATE.queue.pop(0) if STATE.queue else dict(STATE.default)
        finished = False
        try:
            self.serve(path, body, script)
            finished = True
        except ClientGone:
            self.close_connection = True
        finally:
            with STATE.lock:
                STATE.active -= 1
                if finished:
                    STATE.completed += 1
                else:
                    STATE.disconnects += 1

    def control(self, path: str, raw: bytes | None) -> None:
        if path == "/control/stats" and self.command == "GET":
            with STATE.lock:
                stats = STATE.stats()
            self.send_json(200, stats)
        elif path == "/control/reset" and self.command == "POST":
            with STATE.lock:
                STATE.reset()
            self.send_json(200, {"ok": True})
        elif path == "/control/open-gate" and self.command == "POST":
            STATE.gate.set()
            self.send_json(200, {"ok": True})
        elif path == "/control" and self.command == "POST":
            try:
                command = json.loads(raw or b"{}")
            except ValueError:
                self.send_json(400, {"error": "control body is not JSON"})
                return
            with STATE.lock:
                if isinstance(command.get("default"), dict):
                    STATE.default = command["default"]
                if isinstance(command.get("models"), dict):
                    STATE.models = command["models"]
                for entry in command.get("next") or []:
                    script = parse_script(entry)
                    if script is not None:
                        STATE.queue.append(script)
                queued = len(STATE.queue)
            self.send_json(200, {"ok": True, "queued": queued})
        else:
            self.send_json(404, {"error": f"no control route {self.command} {path}"})

    def serve(self, path: str, body, script: dict) -> None:
        routes = {
            ("POST", "/v1/chat/completions"): "chat",
            ("POST", "/v1/completions"): "completion",
            ("POST", "/v1/embeddings"): "embedding",
            ("GET", "/v1/models"): "models",
        }
        route = routes.get((self.command, path))
        if route is None:
            self.send_json(404, {"error": {"message": f"no route {self.command} {path}", "type": "invalid_request_error"}})
            return
        if API_KEY is not None and self.headers.get("Authorization") != f"Bearer {API_KEY}":
            self.send_json(401, {"error": {"message": "Incorrect API key provided", "type": "invalid_request_error",
                                           "code": "invalid_api_key"}})
            return
        if route != "models" and not isinstance(body, dict):
            self.send_json(400, {"error": {"message": "body is not a JSON object", "type": "invalid_request_error"}})
            return

        behaviour = script.get("behaviour", "ok")
        delay = float(script.get("delay", 0))
        if behaviour == "hang":
            self.wait(float(script.get("max_hang", 120)))
            self.drop()
            return
        if delay > 0:
            self.wait(delay)
        if behaviour == "close":
            self.drop()
            return
        if behaviour == "error":
            status = int(script.get("status", 500))
            extra = {}
            if "retry_after" in script:
                extra["Retry-After"] = str(script["retry_after"])
            message = script.get("message", f"scripted error {status}")
            error = {"message": message, "type": script.get("type", "scripted_error"), "code": script.get("code", status)}
            self.send_json(status, {"error": error}, extra)
            return

        model = body.get("model", MODEL) if isinstance(body, dict) else MODEL
        if route == "models":
            self.answer_json(script, {"object": "list", "data": [
                {"id": MODEL, "object": "model", "created": 0, "owned_by": "scripted"}]})
        elif route == "embedding":
            inputs = body.get("input", "")
            inputs = inputs if isinstance(inputs, list) else [inputs]
            data = [{"object": "embedding", "index": i, "embedding": [round(0.125 * (i + 1) * k, 3) for k in range(8)]}
                    for i in range(len(inputs))]
            tokens = sum(len(str(x).split()) for x in inputs)
            self.answer_json(script, {"object": "list", "data": data, "model": model,
                                      "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})
        elif body.get("stream") is True and script.get("format") != "json":
            self.answer_stream(script, route, model, body)
        else:
            chunks = int(script.get("chunks", 4))
            text = "".join(f"tok{i} " for i in range(chunks))
            if route == "chat":
                choice = {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
                answer = {"id": "chatcmpl-scripted", "object": "chat.completion", "created": int(time.time()),
                          "model": model, "choices": [choice]}
            else:
                choice = {"index": 0, "text": text, "finish_reason": "stop", "logprobs": None}
                answer = {"id": "cmpl-scripted", "object": "text_completion", "created": int(time.time()),
                          "model": model, "choices": [choice]}
            answer["usage"] = {"prompt_tokens": 5, "completion_tokens": chunks, "total_tokens": 5 + chunks}
            self.answer_json(script, answer)

    def answer_json(self, script: dict, answer: dict) -> None:
        behaviour = script.get("behaviour", "ok")
        if script.get("usage") is False:
            answer.pop("usage", None)
        data = json.dumps(answer).encode()
        if behaviour == "garbage":
            data = b"<html>this is not json</html>"
        if behaviour == "stall":
            self.head(200, "application/json", len(data))
            self.write(b"")
            self.wait(float(script.get("max_hang", 120)))
            self.drop()
            return
        self.head(200, "application/json", len(data))
        if behaviour == "cut":
            self.write(data[: len(data) // 2])
            self.drop()
            return
        self.write(data)

    def answer_stream(self, script: dict, route: str, model: str, body: dict) -> None:
        behaviour = script.get("behaviour", "ok")
        chunks = int(script.get("chunks", 4))
        interval = float(script.get("interval", 0))
        style = script.get("sse") or {}
        newline = b"\r\n" if style.get("crlf") else b"\n"
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        created = int(time.time())

        def event(payload: bytes) -> None:
            if behaviour == "garbage":
                payload = b"{not json"
            if style.get("multiline") and payload.startswith(b"{") and b"," in payload:
                cut = payload.index(b",") + 1
                lines = [b"data: " + payload[:cut], b"data: " + payload[cut:]]
            else:
                lines = [b"data: " + payload]
            text = newline.join(lines) + newline + newline
            if style.get("comments"):
                text = b": keep-alive" + newline + text
            if style.get("split") and len(text) > 4:
                self.chunk(text[: len(text) // 2])
                self.wait(0.02)
                self.chunk(text[len(text) // 2:])
            else:
                self.chunk(text)

        def piece(i: int, last: bool) -> dict:
            if route == "chat":
                delta = {"content": f"tok{i} "}
                if i == 0:
                    delta["role"] = "assistant"
                choice = {"index": 0, "delta": delta if not last else {}, "finish_reason": "stop" if last else None}
                kind = "chat.completion.chunk"
            else:
                choice = {"index": 0, "text": "" if last else f"tok{i} ", "finish_reason": "stop" if last else None}
                kind = "text_completion"
            return {"id": "chatcmpl-scripted", "object": kind, "created": created, "model": model, "choices": [choice]}

        self.head(200, "text/event-stream", None, {"Cache-Control": "no-cache"})
        for i in range(chunks):
            if i > 0 and interval > 0:
                self.wait(interval)
            if i == 1 and script.get("gate"):
                self.wait_for_gate(float(script.get("max_hang", 120)))
            event(json.dumps(piece(i, False)).encode())
        if behaviour == "cut":
            self.drop()
            return
        if behaviour == "stall":
            self.wait(float(script.get("max_hang", 120)))
            self.drop()
            return
        if interval > 0:
            self.wait(interval)
        event(json.dumps(piece(chunks, True)).encode())
        if include_usage:
            usage = {"prompt_tokens": 5, "completion_tokens": chunks, "total_tokens": 5 + chunks}
            event(json.dumps({"id": "chatcmpl-scripted", "object": "chat.completion.chunk", "created": created,
                              "model": model, "choices": [], "usage": usage}).encode())
        if script.get("done", True) is not False:
            event(b"[DONE]")
        self.chunk(b"")  # the last chunk: the answer is complete


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, tls: ssl.SSLContext | None) -> None:
        super().__init__(address, Handler)
        self.tls = tls

    def get_request(self):
        connection, address = super().get_request()
        if self.tls is not None:
            # The handshake happens in the connection's own thread (do_handshake_on_connect=False
            # defers it to the first read), so a client that never finishes it blocks nobody.
            connection = self.tls.wrap_socket(connection, server_side=True, do_handshake_on_connect=False)
        return connection, address

    def handle_error(self, request, client_address) -> None:
        # A client that failed the TLS handshake or vanished is expected here; stay quiet.
        pass


def main() -> None:
    global MODEL, API_KEY
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (printed on stdout)")
    parser.add_argument("--model", default="scripted")
    parser.add_argument("--api-key", default=None)
    parser.add_argument("--tls-cert", default=None)
    parser.add_argument("--tls-key", default=None)
    parser.add_argument("--exit-with-stdin", action="store_true",
                        help="stop when stdin reaches EOF (tests: the parent's death ends the server)")
    args = parser.parse_args()
    MODEL = args.model
    API_KEY = args.api_key

    tls = None
    if args.tls_cert or args.tls_key:
        if not (args.tls_cert and args.tls_key):
            parser.error("--tls-cert and --tls-key go together")
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(args.tls_cert, args.tls_key)

    server = Server((args.host, args.port), tls)
    print(server.server_address[1], flush=True)

    serve_until_stopped(server, args.exit_with_stdin)


if __name__ == "__main__":
    main()
