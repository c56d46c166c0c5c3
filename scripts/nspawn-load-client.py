#!/usr/bin/env python3
"""A steady client of a running infer stack, for scripts/systemd-nspawn-test.sh.

    nspawn-load-client.py KEY STOP_FILE [WORKERS] [MAX_SECONDS]

WORKERS threads (default 2) each send, one after another until STOP_FILE exists (or MAX_SECONDS, default
300, pass), a chat completion (4 tokens, a prompt of its own so the cache never answers it) and an
embedding, each on a new connection to 127.0.0.1:8080 (run it in the container's network namespace).
A request counts as served only with status 200 and a body of the right shape (a choice with content;
a 384-dimensional vector). Prints one line per failure as it happens (seconds since start, what, why)
and a JSON summary last: {"ok": N, "failed": N, "by_kind": {...}}. Exits 1 when any request failed.
"""
import http.client
import json
import os
import sys
import threading
import time

key, stop_file = sys.argv[1], sys.argv[2]
workers = int(sys.argv[3]) if len(sys.argv) > 3 else 2
deadline = time.time() + (float(sys.argv[4]) if len(sys.argv) > 4 else 300)
start = time.time()
lock = threading.Lock()
totals = {"ok": 0, "failed": 0, "by_kind": {}}


def request(path, body):
    """One request on a new connection; returns (status, parsed body or text)."""
    connection = http.client.HTTPConnection("127.0.0.1", 8080, timeout=60)
    try:
        connection.request("POST", path, json.dumps(body), {
            "Authorization": "Bearer " + key, "Content-Type": "application/json", "Connection": "close"})
        response = connection.getresponse()
        data = response.read()
        try:
            return response.status, json.loads(data)
        except ValueError:
            return response.status, data[:200].decode(errors="replace")
    finally:
        connection.close()


def chat(n):
    status, body = request("/v1/chat/completions", {
        "model": "smollm2", "max_tokens": 4, "temperature": 0,
        "messages": [{"role": "user", "content": f"Say a word about the number {n}."}]})
    served = status == 200 and isinstance(body, dict) and body["choices"][0]["message"]["content"] is not None
    return served, status, body


def embed(n):
    status, body = request("/v1/embeddings", {"model": "minilm", "input": f"steady client sentence {n}"})
    served = status == 200 and isinstance(body, dict) and len(body["data"][0]["embedding"]) == 384
    return served, status, body


def worker(index):
    n = index * 1_000_000
    while not os.path.exists(stop_file) and time.time() < deadline:
        for kind, call in (("chat", chat), ("embed", embed)):
            n += 1
            try:
                served, status, body = call(n)
                why = "" if served else f"status {status}: {str(body)[:160]}"
            except (OSError, http.client.HTTPException, KeyError, IndexError, TypeError) as error:
                served, why = False, f"{type(error).__name__}: {error}"
            with lock:
                counts = totals["by_kind"].setdefault(kind, {"ok": 0, "failed": 0})
                if served:
                    totals["ok"] += 1
                    counts["ok"] += 1
                else:
                    totals["failed"] += 1
                    counts["failed"] += 1
                    print(f"  t={time.time() - start:6.1f}s {kind} failed: {why}", flush=True)


threads = [threading.Thread(target=worker, args=(i,)) for i in range(workers)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(json.dumps(totals), flush=True)
sys.exit(1 if totals["failed"] else 0)
