#!/usr/bin/env python3
"""An OTLP/HTTP trace receiver for the tests: decodes what infer exports with the official protobuf
definitions (PyPI's opentelemetry-proto) and writes each span it got as one JSON line.

    otlp_receiver.py --out FILE [--host 127.0.0.1] [--port 0] [--exit-with-stdin]

POST /v1/traces with an ExportTraceServiceRequest (Content-Type application/x-protobuf, or
application/json per OTLP/HTTP's JSON encoding) is answered 200 with an empty
ExportTraceServiceResponse; anything that does not decode is answered 400 and counted. The chosen port
is printed on stdout first. Each line of FILE:

    {"service": "infer-frontd", "trace_id": hex, "span_id": hex, "parent_span_id": hex or "",
     "name": ..., "kind": int, "start": ns, "end": ns, "attributes": {key: value}, "status": {"code": int,
     "message": str}, "trace_state": str, "flags": int, "resource": {key: value}}

GET /stats answers {"requests": n, "spans": n, "rejected": n}. Stops on SIGTERM/SIGINT, or with
--exit-with-stdin when its stdin reaches EOF (the test process's death ends it).
"""
import argparse
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from serve_until_stopped import serve_until_stopped

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

LOCK = threading.Lock()
STATS = {"requests": 0, "spans": 0, "rejected": 0}
OUT = None


def any_value(value):
    """An AnyValue as plain JSON."""
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [any_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: any_value(kv.value) for kv in value.kvlist_value.values}
    if kind == "bytes_value":
        return value.bytes_value.hex()
    return getattr(value, kind) if kind else None


def attributes(pairs):
    return {kv.key: any_value(kv.value) for kv in pairs}


def spans_of(request):
    for resource_spans in request.resource_spans:
        resource = attributes(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                yield {
                    "service": resource.get("service.name", ""),
                    "resource": resource,
                    "scope": scope_spans.scope.name,
                    "trace_id": span.trace_id.hex(),
                    "span_id": span.span_id.hex(),
                    "parent_span_id": span.parent_span_id.hex(),
                    "trace_state": span.trace_state,
                    "flags": span.flags,
                    "name": span.name,
                    "kind": span.kind,
                    "start": span.start_time_unix_nano,
                    "end": span.end_time_unix_nano,
                    "attributes": attributes(span.attributes),
                    "status": {"code": span.status.code, "message": span.status.message},
                }


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, body, content_type):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/stats":
            with LOCK:
                body = json.dumps(STATS).encode()
            return self.reply(200, body, "application/json")
        self.reply(404, b"", "text/plain")

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        if self.path != "/v1/traces":
            return self.reply(404, b"", "text/plain")
        request = ExportTraceServiceRequest()
        try:
            if (self.headers.get("Content-Type") or "").startswith("application/json"):
                json_format.Parse(body, request)
            else:
                request.ParseFromString(body)
        except Exception as error:  # noqa: BLE001 - any decoding failure is the sender's
            with LOCK:
                STATS["rejected"] += 1
            return self.reply(400, str(error).encode(), "text/plain")
        spans = list(spans_of(request))
        with LOCK:
            STATS["requests"] += 1
            STATS["spans"] += len(spans)
            for span in spans:
                OUT.write(json.dumps(span) + "\n")
            OUT.flush()
        self.reply(200, ExportTraceServiceResponse().SerializeToString(), "application/x-protobuf")


def main():
    global OUT
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (printed on stdout)")
    parser.add_argument("--out", required=True, help="file the spans are appended to, one JSON object a line")
    parser.add_argument("--exit-with-stdin", action="store_true",
                        help="stop when stdin reaches EOF (tests: the parent's death ends the receiver)")
    args = parser.parse_args()
    OUT = open(args.out, "a", encoding="utf-8")
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)

    serve_until_stopped(server, args.exit_with_stdin)


if __name__ == "__main__":
    main()
