#!/usr/bin/env python3
"""Paired requests: the same chat completion (a new seed each round) sent each way in turn, the order
rotating every round, for as long as asked; on a shared machine whose load drifts, the median of each
round's differences is the steadiest figure of what a gateway adds to one request.

    paired.py SECONDS MAX_TOKENS NAME BASE_URL MODEL KEY [NAME BASE_URL MODEL KEY ...]

KEY "-": no Authorization header. The first way is the reference. Prints one line per way:
    NAME ROUNDS MEDIAN_MS ADDED_MS
(ADDED_MS: the median of the differences from the reference, 0 for the reference itself). Exits 1 on
any answer that is not 200. Each way keeps one keep-alive connection, as wrk does.
"""
import http.client
import json
import statistics
import sys
import time
import urllib.parse


def main():
    seconds, max_tokens = float(sys.argv[1].rstrip("s")), int(sys.argv[2])
    rest = sys.argv[3:]
    ways = [rest[i:i + 4] for i in range(0, len(rest), 4)]
    connections = {}
    timings = {name: [] for name, *_ in ways}

    def call(name, base, model, key, seed):
        url = urllib.parse.urlsplit(base)
        if name not in connections:
            connections[name] = http.client.HTTPConnection(url.hostname, url.port, timeout=120)
        body = json.dumps({"model": model, "messages": [{"role": "user", "content": "What is the capital of France?"}],
                           "temperature": 0, "max_tokens": max_tokens, "seed": seed})
        headers = {"Content-Type": "application/json"}
        if key != "-":
            headers["Authorization"] = "Bearer " + key
        started = time.perf_counter()
        connections[name].request("POST", url.path.rstrip("/") + "/v1/chat/completions", body, headers)
        reply = connections[name].getresponse()
        text = reply.read()
        elapsed = (time.perf_counter() - started) * 1000
        if reply.status != 200:
            sys.exit(f"paired: {name} answered {reply.status}: {text[:300]!r}")
        return elapsed

    seed = 700000000
    end = time.monotonic() + seconds
    while time.monotonic() < end or not timings[ways[0][0]]:
        seed += 1
        shift = seed % len(ways)
        for name, base, model, key in ways[shift:] + ways[:shift]:
            timings[name].append(call(name, base, model, key, seed))
    reference = timings[ways[0][0]]
    for name, *_ in ways:
        added = statistics.median(b - a for a, b in zip(reference, timings[name]))
        print(name, len(timings[name]), f"{statistics.median(timings[name]):.3f}", f"{added:+.3f}")


if __name__ == "__main__":
    main()
