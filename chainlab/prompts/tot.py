"""Tree-of-Thoughts prompts in four stages: generate, evaluate, deepen, rank.

Each stage is a ``PromptTemplate``; the output of stage *i* (stored under its output key) is an
input of stage *i+1*, so a sequential chain can wire them by key:

========  =================================  ======================
stage     input variables                    output key
========  =================================  ======================
generate  ``problem, factors, num_solutions``  ``solutions``
evaluate  ``problem, factors, solutions``      ``evaluations``
deepen    ``evaluations``                      ``enhanced_reasoning``
rank      ``enhanced_reasoning``               ``ranked_solutions``
========  =================================  ======================
"""

from __future__ import annotations

from dataclasses import dataclass

from chainlab.prompts.braces import SafePromptTemplate, escape_braces
from chainlab.prompts.chat_format import llama2_prompt

__all__ = ["ToTStage", "TreeOfThoughtsPrompts", "TOT_OUTPUT_KEYS", "tot_prompts"]

TOT_OUTPUT_KEYS: tuple[str, str, str, str] = (
    "solutions",
    "evaluations",
    "enhanced_reasoning",
    "ranked_solutions",
)
"""Output keys of the four stages, in order."""

_GENERATE = (
    "Problem: {problem}\n\n"
    "Propose {num_solutions} distinct solutions to this problem. Make them genuinely different "
    "approaches, not variations of one idea, and take these factors into account: {factors}.\n"
    "Number the solutions and describe each in a few sentences."
)
_EVALUATE = (
    "Problem: {problem}\n"
    "Factors to consider: {factors}\n\n"
    "Candidate solutions:\n{solutions}\n\n"
    "Evaluate each candidate in turn. For every one, list its pros and its cons, judge its "
    "feasibility (effort, cost, difficulty, obstacles), and estimate its probability of success "
    "as a percentage with a one-line justification."
)
_DEEPEN = (
    "Evaluations of the candidate solutions:\n{evaluations}\n\n"
    "Take the most promising solutions according to these evaluations and deepen the reasoning "
    "about them: how they would be carried out step by step, which resources or help they need, "
    "which obstacles are likely and how to overcome them, and what could happen unexpectedly."
)
_RANK = (
    "Detailed reasoning about the candidate solutions:\n{enhanced_reasoning}\n\n"
    "Rank the solutions from most to least promising. For each, give its rank, a justification, "
    "and any final considerations. End with the single best solution."
)


@dataclass(frozen=True)
class ToTStage:
    """One stage: its prompt and the key its LLM output is stored under."""

    prompt: SafePromptTemplate
    output_key: str

    @property
    def input_variables(self) -> list[str]:
        """The prompt's input variables."""
        return list(self.prompt.input_variables)


@dataclass(frozen=True)
class TreeOfThoughtsPrompts:
    """The four ToT stages, in order (see the module docstring for the keys)."""

    generate: ToTStage
    evaluate: ToTStage
    deepen: ToTStage
    rank: ToTStage

    @property
    def stages(self) -> tuple[ToTStage, ToTStage, ToTStage, ToTStage]:
        """The stages in execution order."""
        return (self.generate, self.evaluate, self.deepen, self.rank)

    def as_dict(self) -> dict[str, SafePromptTemplate]:
        """``{output_key: prompt}`` in execution order."""
        return {s.output_key: s.prompt for s in self.stages}


def tot_prompts(*, llama2: bool = False, system: str | None = None) -> TreeOfThoughtsPrompts:
    """Build the four Tree-of-Thoughts prompts.

    Args:
        llama2: wrap each stage in the Llama-2 chat format (``<s>[INST] ... [/INST]``).
        system: optional literal system context for the Llama-2 form.
    """

    def make(text: str) -> SafePromptTemplate:
        if llama2:
            text = llama2_prompt(text, system=escape_braces(system) if system else None)
        return SafePromptTemplate.from_template(text)

    texts = (_GENERATE, _EVALUATE, _DEEPEN, _RANK)
    stages = [ToTStage(make(t), key) for t, key in zip(texts, TOT_OUTPUT_KEYS, strict=True)]
    return TreeOfThoughtsPrompts(*stages)
