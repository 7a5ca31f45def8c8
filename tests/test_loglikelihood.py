"""LocalLLM.loglikelihood on real models: greedy continuations, batching, token split, usage."""

from __future__ import annotations

import math

import pytest
import torch

from chainlab.llms.loglikelihood import Likelihood, encode_pair
from chainlab.llms.usage import track_usage


def manual_logprob(llm, context: str, continuation: str) -> float:
    """The continuation's summed log probability from one unbatched forward pass."""
    ctx, cont = encode_pair(llm, context, continuation)
    ids = torch.tensor([ctx + cont])
    with torch.inference_mode():
        logits = llm.model(input_ids=ids).logits[0].float().log_softmax(-1)
    return sum(float(logits[len(ctx) - 1 + t, tok]) for t, tok in enumerate(cont))


def test_a_likelihood_counts_the_continuations_tokens(tiny_llm):
    [ll] = tiny_llm.loglikelihood([("The numbers are", " 4 5 6 and 10")])
    assert isinstance(ll, Likelihood)
    assert ll.tokens == len(encode_pair(tiny_llm, "The numbers are", " 4 5 6 and 10")[1]) > 1
    assert ll.logprob < 0 and 0 < ll.normalized_prob <= 1
    assert ll.normalized_prob == pytest.approx(math.exp(ll.logprob / ll.tokens))


def test_batched_scores_equal_unbatched_forward_passes(tiny_llm):
    pairs = [
        ("a b c", " d e f g h"),
        ("one", " two"),
        ("a much longer context with many more words in it", " and an end"),
    ]
    scores = tiny_llm.loglikelihood(pairs)
    for (c, x), s in zip(pairs, scores, strict=True):
        assert s.logprob == pytest.approx(manual_logprob(tiny_llm, c, x), abs=1e-4)
    # a context's trailing space moves to the continuation, as lm-evaluation-harness does
    [moved] = tiny_llm.loglikelihood([("one ", "two")])
    assert moved.logprob == pytest.approx(scores[1].logprob, abs=1e-5)


def test_loglikelihood_reports_usage_and_rejects_an_empty_continuation(tiny_llm):
    with track_usage() as usage:
        tiny_llm.loglikelihood([("a b", " c"), ("d", " e f")])
    assert usage.calls == 2 and usage.completion_tokens == 0 and usage.prompt_tokens >= 5
    with pytest.raises(ValueError, match="Continuation 1 .*no tokens"):
        tiny_llm.loglikelihood([("a", " b"), ("a", "")])


@pytest.mark.parametrize("variant", ["lora", "gptq"])
def test_loglikelihood_runs_on_adapted_and_quantized_models(variant, tiny_model_dir, request):
    from chainlab.llms import load_llm

    if variant == "lora":
        llm = load_llm(tiny_model_dir, adapter=request.getfixturevalue("tiny_lora_dir"), device="cpu")
    else:
        llm = load_llm(request.getfixturevalue("tiny_gptq_dir"), device="cpu")
    pairs = [("a b c", " d e f g h"), ("one", " two")]
    scores = llm.loglikelihood(pairs)
    for (c, x), s in zip(pairs, scores, strict=True):
        assert math.isfinite(s.logprob) and s.logprob < 0
        # GPTQ on CPU computes in float16, whose spacing is 0.008 at logits of 8-16: batched and
        # unbatched passes round apart by that much (seen on AVX2 CPUs), so allow 0.1%
        assert s.logprob == pytest.approx(manual_logprob(llm, c, x), abs=1e-3, rel=1e-3)


def test_loglikelihood_prefers_the_embedded_models_own_answer():
    from chainlab.llms import load_llm
    from chainlab.models.registry import available
    from chainlab.prompts import game24

    if "chainlab-tiny" not in available():
        pytest.skip("chainlab-tiny is not packaged")
    llm = load_llm("chainlab-tiny", max_new_tokens=24)
    prompt = game24.cot_prompt("4 5 6 10")
    greedy = llm.generate([prompt]).generations[0][0]
    assert greedy.generation_info["finish_reason"] == "length"  # 24 tokens, none cut
    own, odd = llm.loglikelihood([(prompt, greedy.text), (prompt, " 10 * 10 = 11 (left: 11)")])
    assert own.is_greedy and own.tokens == 24 and not odd.is_greedy
    assert own.mean_logprob > odd.mean_logprob
