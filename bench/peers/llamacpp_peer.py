#!/usr/bin/env python3
"""Reference peer: llama.cpp (through llama-cpp-python's low-level ctypes API) on a GGUF model.

Usage: python bench/peers/llamacpp_peer.py MODEL.gguf [--reps N] [--wait-idle SECS] [--max-seconds S] [--quick]
       python bench/peers/llamacpp_peer.py MODEL.gguf --prefill-sizes 16,64,... --batch-sizes 1,2,... [--reps N] ...
The second form measures only how cost grows (bench/run-growth-curves.sh) and prints
{"prefill": {"16": tok/s, ...}, "batch": {"1": tok/s, ...}, ...}: one prompt of each length (the text of
bench/sentences.txt over and over) in one llama_decode, and aggregate decode at each batch size, both
with --threads threads (default 2), measured as below.

Prints ONE JSON object on stdout (progress on stderr):
  peer          "llama-cpp-python X (llama.cpp ...)"
  decode_1t     tokens/s, one greedy stream, 128 generated tokens after a short prompt, 1 thread
  decode_2t     the same with 2 threads
  batch         {"1":..,"2":..,"4":..,"8":..,"16":..}: aggregate tokens/s with 2 threads for B
                sequences (each its own prompt) decoded together, one llama_decode per step with one
                token per sequence, greedy argmax per sequence from llama_get_logits_ith, 64 tokens each
  prefill_256   tokens/s for one 256-token prompt in a single llama_decode (2 threads, n_batch 512)
  others_cores  {"before": cores other processes used just before, "max": most they used during
                any timed rep}: on a shared 2-core machine anything above ~0.1 spoils the
                figures (llama.cpp's OpenMP threads wait on each other)
  contaminated  the measurements for which no rep ran on a quiet machine (normally [])
Timings cover only the generation steps (llama_decode + argmax), never the prompt, except prefill_256,
which times just the prompt's llama_decode. Every figure is the best of --reps runs (default 3)
among those during which other processes used < 0.1 cores; each rep first waits (up to 30 s) for the
machine to be quiet, and up to 3 more reps are tried when none was; --max-seconds bounds the waiting.
EOS is ignored, so every stream generates exactly the stated number of tokens.
"""
import argparse
import ctypes
import json
import os
import sys
import time

import numpy as np
import llama_cpp as L

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _machine import Bench, wait_idle  # noqa: E402

SHORT_PROMPT = "<|im_start|>user\nTell me a long story about a lighthouse keeper.<|im_end|>\n<|im_start|>assistant\n"
QUESTIONS = [
    "What is the capital of France?",
    "Write a short poem about the sea.",
    "Explain how a bicycle works.",
    "Give me three tips for learning to cook.",
    "Why is the sky blue?",
    "Describe your ideal weekend.",
    "How do plants make their food?",
    "Tell me a story about a brave mouse.",
    "What are the benefits of regular exercise?",
    "How does a computer store numbers?",
    "Suggest a name for a friendly robot.",
    "What should I pack for a trip to the mountains?",
    "Explain the rules of chess briefly.",
    "Why do cats purr?",
    "Write a haiku about autumn leaves.",
    "How can I save money on groceries?",
]


def log(*a):
    print("[llamacpp_peer]", *a, file=sys.stderr, flush=True)


@L.llama_log_callback
def _quiet_log(level, text, user_data):  # keep llama.cpp's warnings and errors only
    if level >= 3 and level != 5:  # GGML_LOG_LEVEL_WARN=3, ERROR=4, CONT=5
        sys.stderr.write(text.decode(errors="replace"))


class Engine:
    def __init__(self, path):
        if not os.environ.get("PEER_VERBOSE"):
            L.llama_log_set(_quiet_log, None)
        L.llama_backend_init()
        mp = L.llama_model_default_params()
        mp.n_gpu_layers = 0
        self.model = L.llama_model_load_from_file(path.encode(), mp)
        if not self.model:
            raise SystemExit(f"cannot load model {path}")
        self.vocab = L.llama_model_get_vocab(self.model)
        self.n_vocab = L.llama_vocab_n_tokens(self.vocab)

    def tokenize(self, text):
        b = text.encode()
        buf = (L.llama_token * (len(b) + 16))()
        n = L.llama_tokenize(self.vocab, b, len(b), buf, len(buf), False, True)
        if n < 0:
            raise RuntimeError("tokenize failed")
        return list(buf[:n])

    def context(self, n_ctx, n_seq_max, n_batch, threads):
        cp = L.llama_context_default_params()
        cp.n_ctx = n_ctx
        cp.n_batch = n_batch
        cp.n_ubatch = n_batch
        cp.n_seq_max = n_seq_max
        cp.n_threads = threads
        cp.n_threads_batch = threads
        cp.no_perf = True
        ctx = L.llama_init_from_model(self.model, cp)
        if not ctx:
            raise RuntimeError(f"llama_init_from_model failed (n_ctx {n_ctx}, n_seq_max {n_seq_max})")
        return ctx

    def argmax(self, ctx, i):
        p = L.llama_get_logits_ith(ctx, i)
        return int(np.argmax(np.ctypeslib.as_array(p, shape=(self.n_vocab,))))


def fill(batch, entries):
    """entries: list of (token, pos, seq_id, want_logits)."""
    for i, (tok, pos, seq, out) in enumerate(entries):
        batch.token[i] = tok
        batch.pos[i] = pos
        batch.n_seq_id[i] = 1
        batch.seq_id[i][0] = seq
        batch.logits[i] = 1 if out else 0
    batch.n_tokens = len(entries)


def decode(ctx, batch):
    rc = L.llama_decode(ctx, batch)
    if rc != 0:
        raise RuntimeError(f"llama_decode returned {rc}")


def run_streams(eng, ctx, batch, prompts, n_gen):
    """Prefill each prompt (own seq id, untimed), then decode n_gen tokens for all sequences
    together, one llama_decode per step. Returns (seconds for the generation steps, tokens)."""
    L.llama_memory_clear(L.llama_get_memory(ctx), True)
    B = len(prompts)
    # prefill: all prompts in one batch, logits only for each prompt's last token
    entries, last_idx = [], []
    for s, ids in enumerate(prompts):
        for j, t in enumerate(ids):
            entries.append((t, j, s, j == len(ids) - 1))
        last_idx.append(len(entries) - 1)
    fill(batch, entries)
    decode(ctx, batch)
    nxt = [eng.argmax(ctx, i) for i in last_idx]
    pos = [len(ids) for ids in prompts]
    gen = [[t] for t in nxt]
    t0 = time.perf_counter()
    for _ in range(n_gen - 1):  # the first token came from the prompt's logits
        fill(batch, [(nxt[s], pos[s], s, True) for s in range(B)])
        decode(ctx, batch)
        nxt = [eng.argmax(ctx, s) for s in range(B)]
        for s in range(B):
            pos[s] += 1
            gen[s].append(nxt[s])
    dt = time.perf_counter() - t0
    # tokens produced by the timed steps: (n_gen - 1) per sequence
    return dt, B * (n_gen - 1), gen


def sizes(text):
    return [int(x) for x in text.split(",") if x.strip()] if text else []


def sweep(eng, bench, reps, prefill_sizes, batch_sizes, n_gen, threads):
    """How prompt processing grows with the prompt, and aggregate decode with the batch."""
    res = {"prefill": {}, "batch": {}}
    if prefill_sizes:
        here = os.path.dirname(os.path.abspath(__file__))
        text = open(os.path.join(here, "..", "sentences.txt")).read().replace("\n", " ")
        passage = eng.tokenize(text)
        ids = []
        while len(ids) < max(prefill_sizes):
            ids += passage
        longest = max(prefill_sizes)
        batch = L.llama_batch_init(longest, 0, 1)
        ctx = eng.context(longest, 1, longest, threads)
        def timed(n):
            entries = [(t, j, 0, j == n - 1) for j, t in enumerate(ids[:n])]

            def one():
                L.llama_memory_clear(L.llama_get_memory(ctx), True)
                fill(batch, entries)
                t0 = time.perf_counter()
                decode(ctx, batch)
                return n, time.perf_counter() - t0
            return one
        timed(min(16, longest))()  # warm-up
        for n in prefill_sizes:
            res["prefill"][str(n)] = round(bench.run(f"prefill_{n}", timed(n), reps), 1)
        L.llama_free(ctx)
        L.llama_batch_free(batch)
    if batch_sizes:
        prompts = [eng.tokenize(f"<|im_start|>user\n{q}<|im_end|>\n<|im_start|>assistant\n") for q in QUESTIONS]
        most = max(batch_sizes)
        batch = L.llama_batch_init(max(1024, most * 64), 0, 1)
        ctx = eng.context(most * 256, most, max(1024, most * 64), threads)  # 256 positions per sequence
        for b in batch_sizes:
            chosen = [prompts[i % len(prompts)] for i in range(b)]
            run_streams(eng, ctx, batch, chosen, 4)  # warm-up at this shape

            def one():
                dt, n, _ = run_streams(eng, ctx, batch, chosen, n_gen)
                return n, dt
            res["batch"][str(b)] = round(bench.run(f"batch_{b}", one, reps), 1)
        L.llama_free(ctx)
        L.llama_batch_free(batch)
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="1 rep, smaller sizes (smoke test)")
    ap.add_argument("--wait-idle", type=float, default=60,
                    help="wait up to this many seconds for other processes to leave the CPUs")
    ap.add_argument("--max-seconds", type=float, default=240,
                    help="after this long, stop waiting for a quiet machine between reps")
    ap.add_argument("--prefill-sizes", default="", help="only the growth sweeps: prompt lengths, e.g. 16,64,256")
    ap.add_argument("--batch-sizes", default="", help="only the growth sweeps: batch sizes, e.g. 1,2,4,8")
    ap.add_argument("--tokens", type=int, default=64, help="with --batch-sizes: tokens generated per sequence")
    ap.add_argument("--threads", type=int, default=2, help="with the sweeps: llama.cpp's threads")
    a = ap.parse_args()
    reps = 1 if a.quick else a.reps
    t_start = time.time()
    before = wait_idle(a.wait_idle, log=log)
    bench = Bench(log, budget=a.max_seconds)

    eng = Engine(a.model)
    if a.prefill_sizes or a.batch_sizes:
        res = sweep(eng, bench, reps, sizes(a.prefill_sizes), sizes(a.batch_sizes), a.tokens + 1, a.threads)
        res["peer"] = f"llama-cpp-python {L.__version__} (llama.cpp vendored, CPU)"
        res["others_cores"] = {"before": before, "max": bench.others_max}
        res["contaminated"] = bench.contaminated
        print(json.dumps(res))
        return
    sysinfo = L.llama_print_system_info().decode(errors="replace").strip()
    log("system:", sysinfo)
    res = {"peer": f"llama-cpp-python {L.__version__} (llama.cpp vendored, CPU)",
           "model": os.path.basename(a.model)}

    # batch large enough for the prefill of 16 prompts or the 256-token prompt
    batch = L.llama_batch_init(1024, 0, 1)

    # single stream, 128 generated tokens (first comes from prompt logits, so decode 128 steps:
    # generate n_gen=129 and time the 128 decode steps that each produce one token)
    short = eng.tokenize(SHORT_PROMPT)
    n_single = 33 if a.quick else 129
    for th in (1, 2):
        ctx = eng.context(512, 1, 512, th)
        run_streams(eng, ctx, batch, [short], 8)  # warm-up
        gen = None

        def one():
            nonlocal gen
            dt, n, gen = run_streams(eng, ctx, batch, [short], n_single)
            return n, dt
        res[f"decode_{th}t"] = round(bench.run(f"decode_{th}t", one, reps), 1)
        if th == 2:
            pieces = []
            for t in gen[0][:24]:
                buf = ctypes.create_string_buffer(64)
                k = L.llama_token_to_piece(eng.vocab, t, buf, 64, 0, True)
                pieces.append(buf.raw[:max(k, 0)])
            res["decode_sample"] = b"".join(pieces).decode(errors="replace")
        L.llama_free(ctx)

    # batched decode, 2 threads, 64 tokens per sequence
    prompts = [eng.tokenize(f"<|im_start|>user\n{q}<|im_end|>\n<|im_start|>assistant\n") for q in QUESTIONS]
    n_gen = 17 if a.quick else 65
    ctx = eng.context(16 * 256, 16, 1024, 2)  # n_ctx_seq = 256 per sequence (unified KV off)
    res["batch"] = {}
    for B in (1, 2, 4, 8, 16):
        run_streams(eng, ctx, batch, prompts[:B], 4)  # warm-up at this shape

        def one():
            dt, n, _ = run_streams(eng, ctx, batch, prompts[:B], n_gen)
            return n, dt
        res["batch"][str(B)] = round(bench.run(f"batch_{B}", one, reps), 1)
    L.llama_free(ctx)

    # prefill: one 256-token prompt, 2 threads, single llama_decode (n_batch = n_ubatch = 512)
    here = os.path.dirname(os.path.abspath(__file__))
    sent = os.path.join(here, "..", "sentences.txt")
    text = open(sent).read().replace("\n", " ") if os.path.exists(sent) else " ".join(QUESTIONS) * 8
    ids = eng.tokenize(text)[:256]
    if len(ids) < 256:
        raise SystemExit("prefill text too short")
    ctx = eng.context(512, 1, 512, 2)
    entries = [(t, j, 0, j == 255) for j, t in enumerate(ids)]

    def one():
        L.llama_memory_clear(L.llama_get_memory(ctx), True)
        fill(batch, entries)
        t0 = time.perf_counter()
        decode(ctx, batch)
        return 256, time.perf_counter() - t0
    one()  # warm-up
    res["prefill_256"] = round(bench.run("prefill_256", one, reps), 1)
    L.llama_free(ctx)

    L.llama_batch_free(batch)
    L.llama_model_free(eng.model)
    res["others_cores"] = {"before": before, "max": bench.others_max}
    res["contaminated"] = bench.contaminated
    res["system_info"] = sysinfo
    res["wall_s"] = round(time.time() - t_start, 1)
    print(json.dumps(res))


if __name__ == "__main__":
    main()
