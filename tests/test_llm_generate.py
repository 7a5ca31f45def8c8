"""LocalLLM generation on a real tiny Llama: batching, n samples, seed, stop, EOS, usage, streaming."""

from __future__ import annotations

import asyncio
import string

import pytest
import torch
from transformers import LogitsProcessor, LogitsProcessorList

from chainlab.llms import LocalLLM, PromptTooLongError
from chainlab.llms.usage import track_usage

PROMPTS = [
    "Use the numbers 4 7 8 8",
    "hello world",
    "Question: what is 3 times 8?",
    "a",
    "The quick brown fox jumps over the lazy dog and then some more words",
]



def texts(result):
    return [[g.text for g in gens] for gens in result.generations]


def n_tokens(tokenizer, text: str) -> int:
    return len(tokenizer(text)["input_ids"])


class ForceEosAt(LogitsProcessor):
    """Force EOS at new-token position ``step`` for every row (to test EOS handling)."""

    def __init__(self, prompt_len: int, step: int, eos: int) -> None:
        self.prompt_len, self.step, self.eos = prompt_len, step, eos

    def __call__(self, input_ids, scores):
        if input_ids.shape[1] - self.prompt_len == self.step:
            scores[:, :] = -float("inf")
            scores[:, self.eos] = 0.0
        return scores


def test_batched_greedy_equals_one_by_one(tiny_llm):
    batched = tiny_llm.generate(PROMPTS)
    assert batched.llm_output["token_usage"]["calls"] == 1  # one model.generate for 5 prompts
    one_by_one = [tiny_llm.invoke(p) for p in PROMPTS]
    assert [g[0] for g in texts(batched)] == one_by_one
    assert len(set(one_by_one)) > 1  # the prompts really lead to different outputs


def test_batch_size_splits_calls_without_changing_greedy_output(tiny_llm):
    whole = tiny_llm.generate(PROMPTS)
    small = tiny_llm.model_copy(update={"batch_size": 2})
    split = small.generate(PROMPTS)
    assert split.llm_output["token_usage"]["calls"] == 3
    assert texts(split) == texts(whole)


def test_n_samples_per_prompt_in_one_call(tiny_llm):
    result = tiny_llm.generate(PROMPTS[:2], n=8, temperature=2.0, seed=0)
    assert [len(g) for g in result.generations] == [8, 8]
    usage = result.llm_output["token_usage"]
    assert usage["calls"] == 1 and usage["sequences"] == 16
    for gens in texts(result):
        assert len(set(gens)) == 8  # distinct samples at a high temperature


def test_n_via_bind_and_batch(tiny_llm):
    bound = tiny_llm.bind(n=3, temperature=1.5, seed=1)
    out = bound.batch(PROMPTS[:2])
    assert len(out) == 2 and all(isinstance(t, str) for t in out)
    full = tiny_llm.generate(PROMPTS[:2], n=3, temperature=1.5, seed=1)
    assert out == [g[0] for g in texts(full)]


def test_greedy_n_returns_n_identical_sequences(tiny_llm):
    result = tiny_llm.generate(PROMPTS[:2], n=3)
    for gens in texts(result):
        assert len(gens) == 3 and len(set(gens)) == 1


def test_same_seed_same_samples_and_different_seed_differs(tiny_llm):
    a = tiny_llm.generate(PROMPTS, n=2, temperature=1.5, seed=123)
    b = tiny_llm.generate(PROMPTS, n=2, temperature=1.5, seed=123)
    c = tiny_llm.generate(PROMPTS, n=2, temperature=1.5, seed=124)
    assert texts(a) == texts(b)
    assert texts(a) != texts(c)
    assert tiny_llm.invoke(PROMPTS[0], temperature=1.5, seed=7) == tiny_llm.invoke(
        PROMPTS[0], temperature=1.5, seed=7
    )


def test_seed_does_not_touch_global_rng(tiny_llm):
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    tiny_llm.invoke(PROMPTS[0], temperature=1.0, seed=5)
    assert torch.equal(torch.rand(3), expected)


def test_temperature_zero_is_greedy_even_with_do_sample(tiny_llm):
    greedy = tiny_llm.invoke(PROMPTS[0])
    assert tiny_llm.invoke(PROMPTS[0], temperature=0, do_sample=True) == greedy
    assert tiny_llm.invoke(PROMPTS[0], temperature=0.0, seed=3) == greedy


def test_no_prompt_echo_and_only_new_tokens(tiny_llm):
    result = tiny_llm.generate(PROMPTS)
    for prompt, gens in zip(PROMPTS, texts(result), strict=True):
        assert not gens[0].startswith(prompt)
        assert "<s>" not in gens[0] and "</s>" not in gens[0]


def _ascii_stop(text: str) -> str:
    """A 1-2 char printable-ASCII stop string from the middle of ``text``."""
    ok = set(string.ascii_letters + string.digits + " .,:;!?+-*/=()")
    for i in range(3, len(text) - 1):
        if text[i] in ok and text.find(text[i]) == i:
            return text[i]
    raise AssertionError(f"no usable stop string in {text!r}")


def test_stop_ends_generation_and_is_not_returned(tiny_llm):
    prompt = PROMPTS[0]
    free = tiny_llm.generate([prompt], max_new_tokens=24)
    text = free.generations[0][0].text
    stop = _ascii_stop(text)
    stopped = tiny_llm.generate([prompt], stop=[stop], max_new_tokens=24)
    out = stopped.generations[0][0]
    assert out.text == text[: text.find(stop)]
    assert stop not in out.text
    assert out.generation_info["finish_reason"] == "stop"
    used = stopped.llm_output["token_usage"]["completion_tokens"]
    assert used < free.llm_output["token_usage"]["completion_tokens"] == 24


def test_stop_is_per_sequence_in_a_batch(tiny_llm):
    free = tiny_llm.generate(PROMPTS, max_new_tokens=20)
    first = free.generations[0][0].text
    stop = _ascii_stop(first)
    stopped = tiny_llm.generate(PROMPTS, stop=[stop], max_new_tokens=20)
    for f, s in zip(texts(free), texts(stopped), strict=True):
        cut = f[0].find(stop)
        assert s[0] == (f[0] if cut < 0 else f[0][:cut])
    infos = [g[0].generation_info for g in stopped.generations]
    # rows without the stop string ran on to max_new_tokens
    assert any(i["completion_tokens"] == 20 for i in infos) or all(
        stop in f[0] for f in texts(free)
    )
    assert infos[0]["completion_tokens"] < 20


def test_eos_ends_sequence_and_is_counted(tiny_llm):
    prompt = PROMPTS[1]
    plen = n_tokens(tiny_llm.tokenizer, prompt)
    eos = tiny_llm.tokenizer.eos_token_id
    forced = LogitsProcessorList([ForceEosAt(plen, 4, eos)])
    result = tiny_llm.generate([prompt], max_new_tokens=12, logits_processor=forced)
    gen = result.generations[0][0]
    assert gen.generation_info == {"finish_reason": "stop", "completion_tokens": 5}
    free = tiny_llm.generate([prompt], max_new_tokens=4)
    assert gen.text == free.generations[0][0].text  # the 4 tokens before EOS, EOS not in text


def test_token_usage_matches_tokenizer_counts(tiny_llm):
    tok = tiny_llm.tokenizer
    result = tiny_llm.generate(PROMPTS, n=2, temperature=1.0, seed=0, max_new_tokens=9)
    usage = result.llm_output["token_usage"]
    assert usage["prompt_tokens"] == sum(n_tokens(tok, p) for p in PROMPTS)  # no padding
    assert usage["completion_tokens"] == sum(
        g.generation_info["completion_tokens"] for gens in result.generations for g in gens
    )
    assert usage["completion_tokens"] <= 9 * 10
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert usage["sequences"] == 10 and usage["calls"] == 1


def test_bos_not_doubled_for_llama2_prompts(tiny_llm):
    tok = tiny_llm.tokenizer
    ids = tiny_llm._encode("<s>[INST] hi [/INST]", tiny_llm._defaults(), 0)
    assert ids[0] == tok.bos_token_id and ids[1] != tok.bos_token_id
    plain = tiny_llm._encode("hi", tiny_llm._defaults(), 0)
    assert plain[0] == tok.bos_token_id and plain[1] != tok.bos_token_id


def test_prompt_longer_than_context(tiny_llm):
    ctx = tiny_llm.context_length()
    long_prompt = "hello world " * ctx
    length = n_tokens(tiny_llm.tokenizer, long_prompt)
    with pytest.raises(PromptTooLongError) as err:
        tiny_llm.invoke(long_prompt)
    assert str(length) in str(err.value) and str(ctx) in str(err.value)
    assert "truncate=True" in str(err.value)
    result = tiny_llm.generate([long_prompt], truncate=True, max_new_tokens=4)
    assert result.llm_output["token_usage"]["prompt_tokens"] == ctx - 4


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [({"n": 0}, "n"), ({"temperature": -0.5}, "temperature"), ({"max_new_tokens": 0}, "max_new_tokens")],
)
def test_bad_options_raise_value_error_naming_them(tiny_llm, kwargs, name):
    with pytest.raises(ValueError, match=name):
        tiny_llm.generate(["hi"], **kwargs)
    with pytest.raises(ValueError, match=name):
        tiny_llm.invoke("hi", **kwargs)
    with pytest.raises(ValueError, match=name):
        LocalLLM(model=tiny_llm.model, tokenizer=tiny_llm.tokenizer, **kwargs)


def test_streaming_matches_invoke_and_honours_stop(tiny_llm):
    prompt = PROMPTS[1]
    full = tiny_llm.invoke(prompt, max_new_tokens=16)
    chunks = list(tiny_llm.stream(prompt, max_new_tokens=16))
    assert "".join(chunks) == full
    assert len(chunks) >= 2  # this output has a space: the streamer emits word by word
    stop = _ascii_stop(full)
    streamed = "".join(tiny_llm.stream(prompt, stop=[stop], max_new_tokens=16))
    assert streamed == full[: full.find(stop)] == tiny_llm.invoke(prompt, stop=[stop], max_new_tokens=16)
    with track_usage() as usage:
        list(tiny_llm.stream(prompt, max_new_tokens=16))
    assert usage.calls == 1 and usage.completion_tokens == 16
    assert usage.prompt_tokens == n_tokens(tiny_llm.tokenizer, prompt)


def test_abandoned_stream_does_not_hang(tiny_llm):
    it = tiny_llm.stream(PROMPTS[0], max_new_tokens=200)
    next(it)
    it.close()
    assert tiny_llm.invoke(PROMPTS[0]) == tiny_llm.invoke(PROMPTS[0])  # lock released


def test_async_does_not_block_the_event_loop(tiny_llm):
    async def main():
        ticks = 0

        async def ticker():
            nonlocal ticks
            while True:
                await asyncio.sleep(0.001)
                ticks += 1

        task = asyncio.create_task(ticker())
        text = await tiny_llm.ainvoke(PROMPTS[0], max_new_tokens=40)
        many = await tiny_llm.abatch(PROMPTS[:2])
        task.cancel()
        return text, many, ticks

    text, many, ticks = asyncio.run(main())
    assert text == tiny_llm.invoke(PROMPTS[0], max_new_tokens=40)
    assert many == tiny_llm.batch(PROMPTS[:2])
    assert ticks > 0


def test_callbacks_and_cache(tiny_llm):
    from langchain_core.caches import InMemoryCache

    cached = tiny_llm.model_copy(update={"cache": InMemoryCache()})
    with track_usage() as usage:
        a = cached.generate(["hello world"], n=2, temperature=1.5, seed=1)
        b = cached.generate(["hello world"], n=2, temperature=1.5, seed=1)
        c = cached.generate(["hello world"], n=2, temperature=1.5, seed=2)  # other key
    assert texts(a) == texts(b)
    assert texts(c) != texts(a)
    assert usage.calls == 2  # the second call was served from the cache


def test_from_pipeline(tiny_model_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer, pipeline

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    pipe = pipeline("text-generation", model=model, tokenizer=tok, max_new_tokens=7)
    llm = LocalLLM.from_pipeline(pipe)
    assert llm.model is model and llm.tokenizer is tok and llm.max_new_tokens == 7
    result = llm.generate(["hello world"])
    assert result.generations[0][0].generation_info["completion_tokens"] <= 7


def test_stop_helpers():
    from chainlab.llms.stopping import StopBuffer, find_stop, tokens_until_stop

    class CharTok:  # one token per character
        def decode(self, ids, skip_special_tokens=True):
            return "".join(chr(i) for i in ids)

    ids = [ord(c) for c in "abc\n\nQ: next"]
    assert tokens_until_stop(CharTok(), ids, ["\n\n"]) == 5
    assert tokens_until_stop(CharTok(), ids, ["zz"]) is None
    assert find_stop("x END y STOP", ["STOP", "END"]) == 2
    buf = StopBuffer(["END"])
    out = "".join(buf.push(p) for p in ["ab", "cE", "N", "Dxyz"]) + buf.flush()
    assert out == "abc" and buf.stopped
    buf = StopBuffer(["END"])
    assert "".join(buf.push(p) for p in ["ab", "cE", "Nd"]) + buf.flush() == "abcENd"
