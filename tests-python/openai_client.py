"""The official `openai` Python client against a running infer stack.

    openai_client.py BASE_URL        (e.g. http://127.0.0.1:8080/v1)

Environment:
    INFER_TEST_KEYS      JSON object: check name -> API key to use for it (each check has its own key,
                         so rate limits do not mix); "ratelimit" is the key whose limit is low.
    INFER_EXPECT_AUTH    "1" when frontd enforces API keys: an unknown key must then be refused (401).
                         Otherwise that check is skipped when frontd lets the unknown key through.

Prints one line per check, `PASS name`, `FAIL name: why` or `SKIP name (why)`, and exits 1 when any
check failed. Tests/StackTests/OpenAIClientTests.swift runs it and reports each FAIL.
"""

import json
import math
import os
import sys
import traceback

import openai

BASE_URL = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8080/v1"
KEYS = json.loads(os.environ.get("INFER_TEST_KEYS", "{}"))
EXPECT_AUTH = os.environ.get("INFER_EXPECT_AUTH") == "1"
CHAT_MODEL = "smollm2"
EMBEDDING_MODEL = "minilm"


class Skip(Exception):
    """A check that cannot run against this build, with the reason."""


def client(check: str, key: str | None = None) -> openai.OpenAI:
    # No retries: a 429 or 5xx must reach the check, not be retried away behind its back.
    return openai.OpenAI(base_url=BASE_URL, api_key=key or KEYS.get(check, "sk-infer-test-" + check), max_retries=0, timeout=120)


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise AssertionError(message)


def check_usage(usage, what: str) -> None:
    expect(usage is not None, f"{what}: no usage")
    expect(usage.prompt_tokens > 0, f"{what}: prompt_tokens {usage.prompt_tokens}")
    expect(usage.completion_tokens > 0, f"{what}: completion_tokens {usage.completion_tokens}")
    expect(usage.total_tokens == usage.prompt_tokens + usage.completion_tokens, f"{what}: total_tokens {usage.total_tokens} is not the sum")


def chat() -> None:
    """chat.completions.create without streaming: content, usage and finish_reason."""
    r = client("chat").chat.completions.create(
        model=CHAT_MODEL, messages=[{"role": "user", "content": "What is the capital of France?"}], temperature=0, max_tokens=12)
    expect(r.object == "chat.completion", f"object {r.object!r}")
    expect(r.model == CHAT_MODEL, f"model {r.model!r}")
    expect(r.id.startswith("chatcmpl-"), f"id {r.id!r}")
    expect(len(r.choices) == 1, f"{len(r.choices)} choices")
    choice = r.choices[0]
    expect(choice.message.role == "assistant", f"role {choice.message.role!r}")
    expect(bool(choice.message.content and choice.message.content.strip()), f"empty content {choice.message.content!r}")
    expect("Paris" in choice.message.content, f"greedy SmolLM2 should name Paris: {choice.message.content!r}")
    expect(choice.finish_reason in ("stop", "length"), f"finish_reason {choice.finish_reason!r}")
    check_usage(r.usage, "usage")
    expect(r.usage.completion_tokens <= 12, f"completion_tokens {r.usage.completion_tokens} > max_tokens 12")


def chat_stream() -> None:
    """Streaming: the chunks' deltas concatenate to the same text as the non-streamed reply; with
    include_usage the last chunk holds the usage and no choices."""
    c = client("stream")
    messages = [{"role": "user", "content": "Name three colours."}]
    chunks = list(c.chat.completions.create(model=CHAT_MODEL, messages=messages, temperature=0, max_tokens=16, stream=True))
    expect(len(chunks) >= 3, f"only {len(chunks)} chunks")
    expect(all(ch.object == "chat.completion.chunk" for ch in chunks), "a chunk is not a chat.completion.chunk")
    expect(len({ch.id for ch in chunks}) == 1, "the chunks have different ids")
    text = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
    expect(text.strip() != "", "the stream carried no text")
    finishes = [ch.choices[0].finish_reason for ch in chunks if ch.choices and ch.choices[0].finish_reason]
    expect(finishes in (["stop"], ["length"]), f"finish reasons {finishes}")
    expect(all(getattr(ch, "usage", None) is None for ch in chunks), "usage sent without include_usage")

    # The same greedy request without streaming: the same text (served from the cache the stream filled).
    whole = c.chat.completions.create(model=CHAT_MODEL, messages=messages, temperature=0, max_tokens=16)
    expect(whole.choices[0].message.content == text, f"stream {text!r} != reply {whole.choices[0].message.content!r}")

    # A sampled stream with include_usage: usage in the last chunk only, which has no choices.
    chunks = list(c.chat.completions.create(model=CHAT_MODEL, messages=messages, temperature=0.8, seed=7, max_tokens=16,
                                            stream=True, stream_options={"include_usage": True}))
    last = chunks[-1]
    expect(last.choices == [], f"the usage chunk has choices {last.choices}")
    check_usage(last.usage, "last chunk's usage")
    expect(all(ch.usage is None for ch in chunks[:-1]), "usage before the last chunk")
    pieces = sum(1 for ch in chunks if ch.choices and ch.choices[0].delta.content)
    expect(pieces >= 1 and last.usage.completion_tokens >= 1, "no text pieces")


def completions() -> None:
    """Legacy completions.create on the raw prompt, plain and streamed."""
    c = client("completions")
    try:
        r = c.completions.create(model=CHAT_MODEL, prompt="Once upon a time", temperature=0, max_tokens=8)
    except openai.NotFoundError as e:
        if "no route" in str(e.message):
            raise Skip("POST /v1/completions answers 404 (no route): the route is not in this build yet")
        raise
    expect(r.object == "text_completion", f"object {r.object!r}")
    expect(r.id.startswith("cmpl-"), f"id {r.id!r}")
    expect(len(r.choices) == 1 and r.choices[0].index == 0, f"choices {r.choices}")
    expect(r.choices[0].text.strip() != "", f"empty text {r.choices[0].text!r}")
    expect(r.choices[0].finish_reason in ("stop", "length"), f"finish_reason {r.choices[0].finish_reason!r}")
    check_usage(r.usage, "usage")
    chunks = list(c.completions.create(model=CHAT_MODEL, prompt="Once upon a time", temperature=0, max_tokens=8, stream=True))
    text = "".join(ch.choices[0].text for ch in chunks if ch.choices)
    expect(text == r.choices[0].text, f"stream {text!r} != reply {r.choices[0].text!r}")


def unit_vectors(data, count: int, what: str) -> None:
    expect(len(data) == count, f"{what}: {len(data)} vectors for {count} inputs")
    for i, item in enumerate(data):
        expect(item.index == i, f"{what}: index {item.index} at {i}")
        expect(len(item.embedding) == 384, f"{what}: {len(item.embedding)} dimensions")
        norm = math.sqrt(sum(x * x for x in item.embedding))
        expect(abs(norm - 1) < 1e-3, f"{what}: norm {norm}")


def embeddings() -> None:
    """embeddings.create with a string (the client's default base64 encoding), a list (floats), and more
    inputs than one model call takes."""
    c = client("embeddings")
    one = c.embeddings.create(model=EMBEDDING_MODEL, input="hello world")
    expect(one.model == EMBEDDING_MODEL and one.object == "list", f"model {one.model!r}, object {one.object!r}")
    unit_vectors(one.data, 1, "string input")
    expect(one.usage.prompt_tokens > 0 and one.usage.total_tokens == one.usage.prompt_tokens, f"usage {one.usage}")
    texts = ["hello world", "The quick brown fox jumps over the lazy dog.", "hello world"]
    many = c.embeddings.create(model=EMBEDDING_MODEL, input=texts, encoding_format="float")
    unit_vectors(many.data, 3, "list input")
    same = sum(a * b for a, b in zip(many.data[0].embedding, many.data[2].embedding))
    other = sum(a * b for a, b in zip(many.data[0].embedding, many.data[1].embedding))
    expect(same > 0.999, f"the same text gave different vectors (cosine {same})")
    expect(other < 0.9, f"different texts gave near-identical vectors (cosine {other})")
    base64_vs_float = sum(a * b for a, b in zip(one.data[0].embedding, many.data[0].embedding))
    expect(base64_vs_float > 0.999, f"base64 and float encodings differ (cosine {base64_vs_float})")
    # More inputs than frontd sends to the model in one call (256): still one vector per input, in order.
    numbered = [f"sentence number {i}" for i in range(300)]
    big = c.embeddings.create(model=EMBEDDING_MODEL, input=numbered)
    unit_vectors(big.data, 300, "300 inputs")
    alone = c.embeddings.create(model=EMBEDDING_MODEL, input=numbered[256]).data[0].embedding
    cosine = sum(a * b for a, b in zip(big.data[256].embedding, alone))
    expect(cosine > 0.9999, f"input 256 of 300 is not the vector of its own text (cosine {cosine})")


def models() -> None:
    """models.list names the registry's models."""
    ids = [m.id for m in client("models").models.list()]
    expect(CHAT_MODEL in ids and EMBEDDING_MODEL in ids, f"models {ids}")


def authentication_error() -> None:
    """An unknown key is refused with AuthenticationError (401) once API keys are enforced."""
    c = client("auth", key="sk-infer-this-key-is-not-in-the-keys-file")
    try:
        c.models.list()
    except openai.AuthenticationError as e:
        expect(e.status_code == 401 and e.type == "authentication_error", f"status {e.status_code}, type {e.type!r}")
        expect(e.response.headers.get("www-authenticate", "").lower().startswith("bearer"), "no WWW-Authenticate: Bearer")
        return
    if EXPECT_AUTH:
        raise AssertionError("frontd accepted a key that is not in its keys file")
    raise Skip("frontd accepted an unknown key: this build does not enforce API keys (placeholder authenticator)")


def rate_limit_error() -> None:
    """Past the key's limit: RateLimitError (429) with Retry-After and code rate_limit_exceeded."""
    c = client("ratelimit")
    for attempt in range(1, 21):
        try:
            c.chat.completions.create(model=CHAT_MODEL, messages=[{"role": "user", "content": "Hi"}], temperature=0, max_tokens=1)
        except openai.RateLimitError as e:
            expect(e.code == "rate_limit_exceeded" and e.type == "rate_limit_error", f"code {e.code!r}, type {e.type!r}")
            retry = e.response.headers.get("retry-after", "")
            expect(retry.isdigit() and int(retry) >= 1, f"Retry-After {retry!r}")
            expect(attempt > 1, "the first request was refused")
            return
    raise AssertionError("20 requests in a row were all admitted")


def not_found_error() -> None:
    """An unknown model: NotFoundError (404) naming param model."""
    try:
        client("errors").chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "Hi"}], max_tokens=1)
    except openai.NotFoundError as e:
        expect(e.code == "model_not_found" and e.param == "model", f"code {e.code!r}, param {e.param!r}")
        return
    raise AssertionError("an unknown model was accepted")


def bad_value_errors() -> None:
    """Out-of-range and ill-typed values: UnprocessableEntityError (422) naming the field; a malformed
    body: BadRequestError (400)."""
    c = client("errors")
    cases = [
        ({"temperature": 5}, "temperature"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"top_p": 0}, "top_p"),
        ({"stop": ["a", "b", "c", "d", "e"]}, "stop"),
        ({"response_format": {"type": "json_object"}}, "response_format"),
    ]
    for extra, param in cases:
        try:
            c.chat.completions.create(model=CHAT_MODEL, messages=[{"role": "user", "content": "Hi"}], **extra)
        except openai.UnprocessableEntityError as e:
            expect(e.param == param and e.type == "invalid_request_error", f"{extra}: param {e.param!r}, type {e.type!r}")
            continue
        raise AssertionError(f"{extra} was accepted")
    try:
        c.embeddings.create(model=EMBEDDING_MODEL, input=[], encoding_format="float")
    except openai.UnprocessableEntityError as e:
        expect(e.param == "input", f"empty input: param {e.param!r}")
    else:
        raise AssertionError("an empty input list was accepted")
    try:
        c.post("/chat/completions", cast_to=object, body=None, options={"headers": {"Content-Type": "application/json"}})
    except openai.BadRequestError as e:
        expect(e.type == "invalid_request_error", f"empty body: type {e.type!r}")
    else:
        raise AssertionError("an empty body was accepted")


CHECKS = [chat, chat_stream, completions, embeddings, models, authentication_error, rate_limit_error, not_found_error, bad_value_errors]


def main() -> int:
    failed = passed = skipped = 0
    for check in CHECKS:
        try:
            check()
        except Skip as s:
            skipped += 1
            print(f"SKIP {check.__name__} ({s})", flush=True)
        except Exception as e:  # any failure of a check, the client's exceptions included
            failed += 1
            detail = "".join(traceback.format_exception_only(type(e), e)).strip()
            print(f"FAIL {check.__name__}: {detail}", flush=True)
        else:
            passed += 1
            print(f"PASS {check.__name__}", flush=True)
    print(f"openai {openai.__version__} against {BASE_URL}: {passed} of {len(CHECKS)} checks passed, {skipped} skipped", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
