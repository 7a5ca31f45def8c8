"""The in-run call cache (``llm.with_cache()``), model fingerprints and the persistent SQLite cache."""

from __future__ import annotations

import json
import sqlite3

import pytest
import torch
from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatGeneration, Generation

from chainlab.llms import CallCache, LocalLLM, SQLiteCache, load_llm, model_fingerprint
from chainlab.llms.sqlite_cache import is_unseeded_sampling
from chainlab.llms.usage import track_usage

PROMPTS = ["Use the numbers 4 7 8 8", "hello world", "Question: what is 3 times 8?"]



def texts(result) -> list[list[str]]:
    return [[g.text for g in gens] for gens in result.generations]


def forward_counter(model):
    calls = []
    hook = model.register_forward_pre_hook(lambda *a, **k: calls.append(1))
    return calls, hook


# --------------------------------------------------------------------------- in-run call cache


def test_greedy_calls_are_cached_per_prompt(tiny_llm):
    llm = tiny_llm.with_cache()
    assert isinstance(llm, LocalLLM) and llm.call_cache is not None
    first = llm.generate(PROMPTS[:2])
    assert first.llm_output["call_cache"] == {"hits": 0, "misses": 2}
    calls, hook = forward_counter(tiny_llm.model)
    try:
        again = llm.generate(PROMPTS[:2])
    finally:
        hook.remove()
    assert calls == []  # the model did not run
    assert texts(again) == texts(first)
    assert again.llm_output["call_cache"] == {"hits": 2, "misses": 0}
    # usage still reports every call's tokens (a cached call costs the same, logically)
    assert again.llm_output["token_usage"]["completion_tokens"] == (
        first.llm_output["token_usage"]["completion_tokens"]
    )
    # a prompt is served whatever batch it comes in; the new one is computed
    mixed = llm.generate([PROMPTS[2], PROMPTS[1]])
    assert mixed.llm_output["call_cache"] == {"hits": 1, "misses": 1}
    assert texts(mixed) == texts(tiny_llm.generate([PROMPTS[2], PROMPTS[1]]))
    stats = llm.call_cache.stats()
    assert (stats.hits, stats.misses, stats.entries) == (3, 3, 3)
    assert stats.hit_rate == 0.5


def test_greedy_key_ignores_seed_and_sampling_knobs_but_not_stop_or_length(tiny_llm):
    llm = tiny_llm.with_cache()
    base = llm.invoke(PROMPTS[0])
    assert llm.invoke(PROMPTS[0], seed=3, top_p=0.5) == base
    assert llm.invoke(PROMPTS[0], temperature=0) == base
    assert llm.call_cache.stats().hits == 2
    llm.invoke(PROMPTS[0], stop=["\n"])
    llm.invoke(PROMPTS[0], max_new_tokens=5)
    assert llm.call_cache.stats().misses == 3


def test_seeded_sampling_is_cached_per_whole_call(tiny_llm):
    llm = tiny_llm.with_cache()
    kwargs = {"n": 3, "temperature": 1.5, "seed": 4}
    a = llm.generate(PROMPTS, **kwargs)
    b = llm.generate(PROMPTS, **kwargs)
    assert texts(a) == texts(b) == texts(tiny_llm.generate(PROMPTS, **kwargs))
    assert b.llm_output["call_cache"] == {"hits": 3, "misses": 0}
    # another seed, or a different prompt list (other batch => other random stream): computed
    c = llm.generate(PROMPTS, n=3, temperature=1.5, seed=5)
    d = llm.generate(PROMPTS[:2], **kwargs)
    assert c.llm_output["call_cache"]["hits"] == 0 and d.llm_output["call_cache"]["hits"] == 0
    assert texts(c) != texts(a)


def test_unseeded_sampling_is_never_cached(tiny_llm):
    llm = tiny_llm.with_cache()
    a = llm.generate(PROMPTS, n=2, temperature=1.5)
    b = llm.generate(PROMPTS, n=2, temperature=1.5)
    assert texts(a) != texts(b)  # fresh samples each time
    assert llm.call_cache.stats().entries == 0
    assert a.llm_output["call_cache"] == {"hits": 0, "misses": 0}


def test_bound_copies_share_the_cache_and_langchain_apis_work(tiny_llm):
    llm = tiny_llm.with_cache()
    bound = llm.bind(n=2, temperature=1.2, seed=1)
    first = bound.batch(PROMPTS[:2])
    assert bound.batch(PROMPTS[:2]) == first
    assert llm.call_cache.stats().hits == 2
    with track_usage() as usage:
        assert llm.invoke(PROMPTS[1]) == llm.invoke(PROMPTS[1])
    assert usage.calls == 2  # LangChain runs are still reported (callbacks, tracing)
    shared = CallCache()
    assert tiny_llm.with_cache(shared).call_cache is shared


def test_another_model_never_hits(tiny_llm, tmp_path):
    from chainlab.llms.tiny_random import build_tiny_llama

    other_dir = build_tiny_llama(tmp_path / "other", seed=1)
    cache = CallCache()
    a = tiny_llm.with_cache(cache)
    b = load_llm(other_dir, device="cpu", max_new_tokens=12, call_cache=cache)
    assert b.call_cache is cache
    a.invoke(PROMPTS[0])
    b.invoke(PROMPTS[0])
    assert cache.stats().hits == 0 and cache.stats().entries == 2


def test_lru_bound_and_clear():
    cache = CallCache(max_entries=2)
    for key in ("a", "b", "c"):
        cache.put(key, [key])
    assert cache.get("a") is None and cache.get("c") == ["c"] and len(cache) == 2
    cache.clear()
    assert cache.stats().entries == 0 and cache.stats().hits == 0
    with pytest.raises(ValueError, match="max_entries"):
        CallCache(max_entries=0)


# --------------------------------------------------------------------------- fingerprints


def test_fingerprint_identifies_weights_not_paths(tiny_llm, tiny_model_dir, tiny_lora_dir, tmp_path):
    import shutil

    copy_dir = tmp_path / "copy"
    shutil.copytree(tiny_model_dir, copy_dir)
    same = load_llm(copy_dir, device="cpu")
    assert same.fingerprint() == tiny_llm.fingerprint()
    adapted = load_llm(tiny_model_dir, adapter=tiny_lora_dir, device="cpu")
    merged = load_llm(tiny_model_dir, adapter=tiny_lora_dir, merge_adapter=True, device="cpu")
    prints = {tiny_llm.fingerprint(), adapted.fingerprint(), merged.fingerprint()}
    assert len(prints) == 3
    with torch.no_grad():
        p = next(same.model.parameters())
        p.view(-1)[0] += 1.0
    assert model_fingerprint(same.model, same.tokenizer) != tiny_llm.fingerprint()
    assert tiny_llm._identifying_params["model_fingerprint"] == tiny_llm.fingerprint()


# --------------------------------------------------------------------------- SQLite cache


def test_sqlite_round_trip_is_json(tmp_path):
    path = tmp_path / "c.sqlite"
    cache = SQLiteCache(path)
    gens = [Generation(text="a", generation_info={"finish_reason": "stop", "completion_tokens": 2})]
    chat = [ChatGeneration(message=AIMessage(content="hi"), generation_info={"x": 1})]
    cache.update("p", "llm", gens)
    cache.update("q", "llm", chat)
    assert cache.lookup("p", "llm") == gens
    got = cache.lookup("q", "llm")
    assert isinstance(got[0], ChatGeneration) and got[0].message.content == "hi"
    assert cache.lookup("p", "other llm") is None and len(cache) == 2
    cache.close()
    raw = sqlite3.connect(path).execute("SELECT value FROM generations").fetchall()
    assert all(isinstance(json.loads(v), list) for (v,) in raw)  # JSON, no pickle
    reopened = SQLiteCache(path)
    assert reopened.lookup("p", "llm") == gens
    assert SQLiteCache(path, namespace="model-b").lookup("p", "llm") is None
    reopened.clear()
    assert reopened.lookup("p", "llm") is None


def test_unseeded_sampling_detection():
    def s(**params):
        return str(sorted(params.items()))

    assert is_unseeded_sampling(s(temperature=0.7, do_sample=None, seed=None))
    assert is_unseeded_sampling(s(temperature=None, do_sample=True, seed=None))
    assert not is_unseeded_sampling(s(temperature=0.7, do_sample=None, seed=3))
    assert not is_unseeded_sampling(s(temperature=0, do_sample=True, seed=None))
    assert not is_unseeded_sampling(s(temperature=None, do_sample=None, seed=None))
    assert not is_unseeded_sampling("not a literal")


def test_local_llm_persists_across_runs_and_models_are_separated(tiny_llm, tiny_model_dir, tmp_path):
    from chainlab.llms.tiny_random import build_tiny_llama

    path = tmp_path / "runs" / "llm-cache.sqlite"
    first = load_llm(tiny_model_dir, device="cpu", max_new_tokens=12, cache=path)
    assert isinstance(first.cache, SQLiteCache)
    a = first.generate(PROMPTS, n=2, temperature=1.3, seed=3)
    first.generate(PROMPTS, n=2, temperature=1.3)  # unseeded: not stored
    # a new run: new LLM object, new connection to the same file
    second = tiny_llm.model_copy(update={"cache": SQLiteCache(path)})
    with track_usage() as usage:
        b = second.generate(PROMPTS, n=2, temperature=1.3, seed=3)
    assert texts(b) == texts(a) and usage.calls == 0  # served from disk
    assert len(second.cache) == len(PROMPTS)
    # another model under the same name (e.g. retrained) never hits
    other_dir = build_tiny_llama(tmp_path / "other", seed=2)
    other = load_llm(other_dir, device="cpu", max_new_tokens=12, cache=SQLiteCache(path))
    other.model_id = second.model_id
    with track_usage() as usage:
        other.generate(PROMPTS, n=2, temperature=1.3, seed=3)
    assert usage.calls == len(PROMPTS)  # one LangChain run per prompt: none was served


def test_load_llm_cache_arguments(tiny_model_dir):
    with pytest.raises(TypeError, match="cache"):
        load_llm(tiny_model_dir, device="cpu", cache=3)
    with pytest.raises(TypeError, match="call_cache"):
        load_llm(tiny_model_dir, device="cpu", call_cache="yes")
    llm = load_llm(
        tiny_model_dir, device="cpu", call_cache=True, batch_size=8, max_batch_rows=16,
        max_batch_tokens=4096, prefix_reuse=False,
    )  # fmt: skip
    assert isinstance(llm.call_cache, CallCache)
    assert (llm.batch_size, llm.max_batch_rows, llm.max_batch_tokens, llm.prefix_reuse) == (
        8, 16, 4096, False,
    )  # fmt: skip
