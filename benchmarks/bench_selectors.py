"""Benchmark chainlab's FAISS example selector on GSM8K.

Measures:

1. **build**: ``SemanticExampleSelector`` over the 7,473 GSM8K train questions (embedding with the
   bundled all-MiniLM-L6-v2 + exact ``IndexFlatIP``), model loading timed separately.
2. **select k=8 among 100,000 examples**: the 7,473 real question embeddings plus 92,527
   *synthetic* vectors (a randomly chosen real embedding + Gaussian noise, re-normalised — they
   are not real questions). Query vectors are precomputed embeddings of GSM8K *test* questions,
   so the query embedding is excluded; timed per query through ``select_by_vector`` (FAISS search
   + example dict copies), exact index.
3. **LangChain baseline**: ``langchain_core``'s ``SemanticSimilarityExampleSelector`` over
   ``InMemoryVectorStore`` holding the same 100,000 vectors (via an ``Embeddings`` that looks up
   the precomputed vectors — query embedding is a dict lookup; stored vectors are numpy rows,
   which is faster for InMemoryVectorStore than the Python lists a real model returns). Its time
   includes the store's cosine similarity over all vectors, argsort, and ``Document`` -> example
   conversion. Reported as the ratio to chainlab's per-query time.
4. **recall@1**: 200 train questions as queries against the 7,473 build, (a) through
   ``select_examples`` (text in; the selector's cache reuses the stored vector of an identical
   text) and (b) with freshly embedded query vectors (cache bypassed); also (b) on the 100k set.
   A hit = the top example's question equals the query text.

Run: ``HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_selectors.py [--json out.json]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import faiss
import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from langchain_core.embeddings import Embeddings  # noqa: E402
from langchain_core.example_selectors import SemanticSimilarityExampleSelector  # noqa: E402
from langchain_core.vectorstores import InMemoryVectorStore  # noqa: E402

from chainlab.prompts.datasets import data_path, read_jsonl  # noqa: E402
from chainlab.selectors import SemanticExampleSelector, default_embeddings  # noqa: E402


class PrecomputedEmbeddings(Embeddings):
    """Embeddings that look vectors up by text (benchmark only: excludes model time)."""

    def __init__(self, table: dict[str, np.ndarray], dimension: int, model_name: str) -> None:
        self.table = table
        self.dimension = dimension
        self.model_name = model_name

    def embed_array(self, texts: list[str]) -> np.ndarray:
        return np.stack([self.table[t] for t in texts]).astype(np.float32)

    def embed_documents(self, texts: list[str]) -> list:  # numpy rows, see module docstring
        return [self.table[t] for t in texts]

    def embed_query(self, text: str) -> list:
        return self.table[text]


def _ms(seconds: list[float]) -> dict[str, float]:
    ms = sorted(s * 1000 for s in seconds)
    return {
        "mean_ms": statistics.fmean(ms),
        "p50_ms": ms[len(ms) // 2],
        "p95_ms": ms[min(len(ms) - 1, int(0.95 * len(ms)))],
        "n": len(ms),
    }


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", type=Path, help="write the numbers to this JSON file")
    ap.add_argument("--total", type=int, default=100_000, help="examples in the large index")
    ap.add_argument("--queries", type=int, default=200, help="timed queries for chainlab")
    ap.add_argument("--lc-queries", type=int, default=20, help="timed queries for LangChain")
    ap.add_argument("--noise", type=float, default=0.05, help="std of synthetic perturbations")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--faiss-threads", type=int, default=1,
        help="OpenMP threads for FAISS (1 is fastest for single queries on a busy 2-core box)",
    )
    args = ap.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    faiss.omp_set_num_threads(args.faiss_threads)
    out: dict = {
        "cpu_count": os.cpu_count(),
        "faiss_threads": args.faiss_threads,
        "loadavg_at_start": os.getloadavg(),
    }

    train = list(read_jsonl(data_path("gsm8k", "train.jsonl")))
    test = list(read_jsonl(data_path("gsm8k", "test.jsonl")))
    examples = [{"question": r["question"], "answer": r["answer"]} for r in train]

    t = time.perf_counter()
    emb = default_embeddings()
    emb.embed_query("warm-up")
    out["model_load_s"] = time.perf_counter() - t

    # 1. build over GSM8K train
    t = time.perf_counter()
    sel = SemanticExampleSelector(examples, embeddings=emb, k=8, input_keys=["question"], show_progress=True)
    out["build_gsm8k_train_s"] = time.perf_counter() - t
    out["build_examples"] = len(sel)
    out["build_texts_embedded"] = sel.num_embedded
    print(f"build: {len(sel)} GSM8K train questions in {out['build_gsm8k_train_s']:.1f} s "
          f"({sel.num_embedded} distinct texts embedded)", file=sys.stderr)

    # 4. recall@1 on 200 train questions
    pick = rng.choice(len(examples), size=200, replace=False)
    queries = [examples[i]["question"] for i in pick]
    hits_text = sum(sel.select_examples({"question": q}, k=1)[0]["question"] == q for q in queries)
    fresh = emb.embed_array(queries)
    hits_fresh = sum(
        sel.select_by_vector(v, k=1)[0]["question"] == q for v, q in zip(fresh, queries, strict=True)
    )
    out["recall_at_1_train_text_queries"] = hits_text / len(queries)
    out["recall_at_1_train_fresh_vectors"] = hits_fresh / len(queries)

    # 2. 100k examples: real + synthetic perturbations
    real = np.stack([sel.index.reconstruct(i) for i in range(len(sel))])
    n_syn = max(0, args.total - len(real))
    base = real[rng.integers(0, len(real), size=n_syn)]
    syn = base + rng.normal(0, args.noise, size=base.shape).astype(np.float32)
    syn /= np.linalg.norm(syn, axis=1, keepdims=True)
    vectors = np.concatenate([real, syn.astype(np.float32)])
    big_examples = examples + [
        {"question": f"synthetic example {i}", "answer": ""} for i in range(n_syn)
    ]
    table = {e["question"]: v for e, v in zip(big_examples, vectors, strict=True)}
    test_q = [r["question"] for r in test[: max(args.queries, args.lc_queries)]]
    test_vecs = emb.embed_array(test_q)
    table.update(zip(test_q, test_vecs, strict=True))
    lookup = PrecomputedEmbeddings(table, emb.dimension, emb.model_name)

    t = time.perf_counter()
    big = SemanticExampleSelector(big_examples, embeddings=lookup, k=8, input_keys=["question"])
    out["build_100k_from_vectors_s"] = time.perf_counter() - t
    out["n_total"] = len(big)
    out["n_real"] = len(real)
    out["n_synthetic"] = n_syn

    for v in test_vecs[:5]:  # warm-up
        big.select_by_vector(v, 8)
    times = []
    for v in test_vecs[: args.queries]:
        t = time.perf_counter()
        big.select_by_vector(v, 8)
        times.append(time.perf_counter() - t)
    out["chainlab_select_k8_100k"] = _ms(times)
    hits_big = sum(
        big.select_by_vector(v, k=1)[0]["question"] == q for v, q in zip(fresh, queries, strict=True)
    )
    out["recall_at_1_train_fresh_vectors_100k"] = hits_big / len(queries)

    # 3. LangChain baseline on the same data and vectors
    t = time.perf_counter()
    store = InMemoryVectorStore(lookup)
    store.add_texts([e["question"] for e in big_examples], metadatas=big_examples)
    lc = SemanticSimilarityExampleSelector(vectorstore=store, k=8, input_keys=["question"])
    out["langchain_build_100k_from_vectors_s"] = time.perf_counter() - t
    lc.select_examples({"question": test_q[0]})  # warm-up
    lc_times = []
    agree = 0
    for q, v in zip(test_q[: args.lc_queries], test_vecs[: args.lc_queries], strict=True):
        t = time.perf_counter()
        got = lc.select_examples({"question": q})
        lc_times.append(time.perf_counter() - t)
        ours = big.select_by_vector(v, 8)
        agree += [g["question"] for g in got] == [o["question"] for o in ours]
    out["langchain_select_k8_100k"] = _ms(lc_times)
    out["langchain_same_top8_fraction"] = agree / args.lc_queries
    out["speedup_vs_langchain_mean"] = (
        out["langchain_select_k8_100k"]["mean_ms"] / out["chainlab_select_k8_100k"]["mean_ms"]
    )

    out["embedding_bf16"] = emb.use_bf16
    out["loadavg_at_end"] = os.getloadavg()
    out["floors"] = {
        "build_gsm8k_train_le_60s": out["build_gsm8k_train_s"] <= 60,
        "select_k8_100k_le_5ms_mean": out["chainlab_select_k8_100k"]["mean_ms"] <= 5,
        "recall_at_1_eq_1": out["recall_at_1_train_text_queries"] == 1.0
        and out["recall_at_1_train_fresh_vectors"] == 1.0,
    }
    print(json.dumps(out, indent=2))
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main()
