"""The official `openai` Python client against infer's rate limits and budgets.

    limits_client.py BASE_URL        (e.g. http://127.0.0.1:8080/v1)

Environment:
    INFER_TEST_KEYS   JSON object with the keys of the checks: "headers" (ordinary limits), "ratelimit"
                      (2 requests per minute), "budget" (a budget of a few cents on a priced model).

Prints `PASS name` or `FAIL name: why` per check, then one `BUDGET {json}` line with what the budget check
saw (each answered request's X-Infer-Cost, and the refusal), and exits 1 when a check failed.
Tests/StackTests/LimitsStackTests.swift runs it.
"""

import json
import os
import sys
import traceback

import openai

BASE_URL = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8080/v1"
KEYS = json.loads(os.environ.get("INFER_TEST_KEYS", "{}"))
MODEL = "smollm2"
MESSAGES = [{"role": "user", "content": "Say hi."}]
RATE_HEADERS = ["x-ratelimit-limit-requests", "x-ratelimit-remaining-requests", "x-ratelimit-reset-requests",
                "x-ratelimit-limit-tokens", "x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens"]


def client(check: str) -> openai.OpenAI:
    # No retries: the 429 must reach the check.
    return openai.OpenAI(base_url=BASE_URL, api_key=KEYS[check], max_retries=0, timeout=120)


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise AssertionError(message)


def headers() -> None:
    """with_raw_response: the x-ratelimit-* headers on a reply and on a stream, before its body."""
    c = client("headers")
    raw = c.chat.completions.with_raw_response.create(model=MODEL, messages=MESSAGES, temperature=0, max_tokens=4)
    for name in RATE_HEADERS:
        expect(raw.headers.get(name) is not None, f"reply has no {name}: {dict(raw.headers)}")
    expect(int(raw.headers["x-ratelimit-limit-requests"]) == 600, f"limit-requests {raw.headers['x-ratelimit-limit-requests']}")
    expect(int(raw.headers["x-ratelimit-limit-tokens"]) == 100000, f"limit-tokens {raw.headers['x-ratelimit-limit-tokens']}")
    expect(raw.headers["x-ratelimit-reset-requests"].endswith("s"), f"reset-requests {raw.headers['x-ratelimit-reset-requests']}")
    first_remaining = int(raw.headers["x-ratelimit-remaining-requests"])
    completion = raw.parse()
    expect(completion.usage is not None and completion.usage.total_tokens > 0, "no usage")
    # A stream: the headers come with the response head, before the first chunk is read.
    with c.chat.completions.with_streaming_response.create(model=MODEL, messages=MESSAGES, temperature=0, max_tokens=4, stream=True) as stream:
        for name in RATE_HEADERS:
            expect(stream.headers.get(name) is not None, f"stream has no {name}: {dict(stream.headers)}")
        # 600 a minute come back one every 100 ms, so the second request may find one more than the first left.
        expect(int(stream.headers["x-ratelimit-remaining-requests"]) in range(first_remaining - 1, 600),
               f"remaining-requests {stream.headers['x-ratelimit-remaining-requests']} after {first_remaining}")
        chunks = list(stream.parse())
        expect(len(chunks) > 0, "no chunks")


def ratelimit() -> None:
    """RateLimitError on the third request of a 2-per-minute key, with an exact Retry-After (≤ 30 s, not 60)."""
    c = client("ratelimit")
    for _ in range(2):
        c.chat.completions.create(model=MODEL, messages=MESSAGES, temperature=0, max_tokens=2)
    try:
        c.chat.completions.create(model=MODEL, messages=MESSAGES, temperature=0, max_tokens=2)
    except openai.RateLimitError as e:
        expect(e.status_code == 429, f"status {e.status_code}")
        expect(e.code == "rate_limit_exceeded", f"code {e.code!r}")
        retry = int(e.response.headers["retry-after"])
        expect(25 <= retry <= 30, f"Retry-After {retry}: one request every 30 s, so at most 30")
        expect(e.response.headers.get("x-ratelimit-remaining-requests") == "0", f"headers {dict(e.response.headers)}")
        return
    raise AssertionError("the third request was admitted")


BUDGET = {}


def budget() -> None:
    """A budget of a few cents runs out on real requests; the next gets RateLimitError code budget_exceeded, nothing generated."""
    c = client("budget")
    costs = []
    for _ in range(12):
        try:
            # Sampled, so never a cache hit (which would cost nothing).
            raw = c.chat.completions.with_raw_response.create(model=MODEL, messages=MESSAGES, temperature=0.7, max_tokens=8)
        except openai.RateLimitError as e:
            expect(e.code == "budget_exceeded", f"code {e.code!r}: {e.message}")
            expect("resets at" in e.message, f"message {e.message!r}")
            retry = int(e.response.headers["retry-after"])
            expect(0 < retry <= 86400, f"Retry-After {retry}: the time to the budget's reset")
            BUDGET.update({"costs": costs, "retry_after": retry, "message": e.message})
            expect(len(costs) >= 1, "refused before any request")
            return
        costs.append(float(raw.headers["x-infer-cost"]))
    raise AssertionError(f"12 requests admitted on a budget of a few cents: {costs}")


def main() -> int:
    failed = False
    for check in [headers, ratelimit, budget]:
        try:
            check()
            print(f"PASS {check.__name__}")
        except Exception as e:  # noqa: BLE001 - every failure is reported, then the next check runs
            failed = True
            print(f"FAIL {check.__name__}: {e}")
            traceback.print_exc(file=sys.stdout)
    print("BUDGET " + json.dumps(BUDGET))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
