"""chainlab.chains: prompting strategies as LangChain Runnables.

Every strategy maps a problem dict to a :class:`StrategyResult` (``answer``, ``candidates``,
``trace``, ``usage``), composes with ``|``, accepts any LangChain LLM, and batches LLM calls across
problems in ``batch``. With :class:`chainlab.llms.LocalLLM`, ``k`` samples are one ``n=k`` call.

>>> from chainlab.chains import self_consistency, chain_of_thought   # doctest: +SKIP
>>> sc = self_consistency(chain_of_thought(llm, task="gsm8k"), k=5)  # doctest: +SKIP
>>> sc.invoke({"question": "...", "answer": "18"}).answer            # doctest: +SKIP
"""

from chainlab.chains.base import Outcome, Run, Strategy, render_prompt, split_usage
from chainlab.chains.cot import ChainOfThought, chain_of_thought
from chainlab.chains.direct import Direct, FewShot, Generator, direct, few_shot
from chainlab.chains.errors import StrategyError
from chainlab.chains.least_to_most import LeastToMost, least_to_most
from chainlab.chains.llm_calls import SamplingParams, complete, supports_n
from chainlab.chains.result import Candidate, StrategyResult
from chainlab.chains.self_consistency import SelfConsistency, self_consistency
from chainlab.chains.tot_search import TotSearch, tot_search
from chainlab.chains.tot_sequential import TotSequential, tot_sequential
from chainlab.chains.trace import Trace, TraceEvent
from chainlab.chains.verifier import Verifier, verifier
from chainlab.chains.voting import VoteGroup, majority_vote, tally
from chainlab.tasks.search import Expansion, SearchTask, ValueReading

#: strategy name -> factory
STRATEGIES = {
    "direct": direct,
    "few_shot": few_shot,
    "chain_of_thought": chain_of_thought,
    "self_consistency": self_consistency,
    "verifier": verifier,
    "tot_sequential": tot_sequential,
    "tot_search": tot_search,
    "least_to_most": least_to_most,
}

__all__ = [
    "STRATEGIES",
    "Candidate",
    "ChainOfThought",
    "Direct",
    "Expansion",
    "FewShot",
    "Generator",
    "LeastToMost",
    "Outcome",
    "Run",
    "SamplingParams",
    "SearchTask",
    "SelfConsistency",
    "Strategy",
    "StrategyError",
    "StrategyResult",
    "TotSearch",
    "TotSequential",
    "Trace",
    "TraceEvent",
    "ValueReading",
    "Verifier",
    "VoteGroup",
    "chain_of_thought",
    "complete",
    "direct",
    "few_shot",
    "least_to_most",
    "majority_vote",
    "render_prompt",
    "self_consistency",
    "split_usage",
    "supports_n",
    "tally",
    "tot_search",
    "tot_sequential",
    "verifier",
]
