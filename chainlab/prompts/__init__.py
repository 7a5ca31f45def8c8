"""Prompt templates and chat formatting for chainlab."""

from chainlab.prompts.braces import (
    BraceSafeFewShotPromptTemplate,
    MissingVariableError,
    SafeChatPromptTemplate,
    SafePromptTemplate,
    check_variables,
    escape_braces,
)
from chainlab.prompts.chat_format import (
    chat_template_prompt,
    llama2_formatter,
    llama2_prompt,
    llama2_prompt_from_messages,
)
from chainlab.prompts.cot import (
    ANSWER_TRIGGERS,
    COT_TRIGGER,
    ZeroShotCoT,
    few_shot_cot_prompt,
    gsm8k_answer_to_rationale,
    gsm8k_cot_examples,
    gsm8k_final_answer,
    strip_calculator_notes,
    zero_shot_cot_prompts,
)
from chainlab.prompts.datasets import data_dir, data_path, read_jsonl
from chainlab.prompts.few_shot import (
    Llama2FewShotPromptTemplate,
    few_shot_chat_prompt,
    few_shot_prompt,
    llama2_few_shot_prompt,
)
from chainlab.prompts.least_to_most import (
    decomposition_prompt,
    format_previous,
    parse_subquestions,
    subquestion_prompt,
)
from chainlab.prompts.personas import (
    PERSONAS,
    PRODUCT_REVIEW_TEMPLATE,
    Persona,
    get_persona,
    persona_chat_prompt,
    persona_prompt,
    product_review_prompt,
)
from chainlab.prompts.tot import TOT_OUTPUT_KEYS, ToTStage, TreeOfThoughtsPrompts, tot_prompts
from chainlab.prompts.verifier import parse_verdict, verifier_prompt

__all__ = [
    "chat_template_prompt",
    "llama2_formatter",
    "llama2_prompt",
    "llama2_prompt_from_messages",
    # braces / errors
    "BraceSafeFewShotPromptTemplate",
    "MissingVariableError",
    "SafeChatPromptTemplate",
    "SafePromptTemplate",
    "check_variables",
    "escape_braces",
    # personas
    "PERSONAS",
    "PRODUCT_REVIEW_TEMPLATE",
    "Persona",
    "get_persona",
    "persona_chat_prompt",
    "persona_prompt",
    "product_review_prompt",
    # few-shot
    "Llama2FewShotPromptTemplate",
    "few_shot_chat_prompt",
    "few_shot_prompt",
    "llama2_few_shot_prompt",
    # chain of thought
    "ANSWER_TRIGGERS",
    "COT_TRIGGER",
    "ZeroShotCoT",
    "few_shot_cot_prompt",
    "gsm8k_answer_to_rationale",
    "gsm8k_cot_examples",
    "gsm8k_final_answer",
    "strip_calculator_notes",
    "zero_shot_cot_prompts",
    # tree of thoughts
    "TOT_OUTPUT_KEYS",
    "ToTStage",
    "TreeOfThoughtsPrompts",
    "tot_prompts",
    # verifier, least-to-most
    "parse_verdict",
    "verifier_prompt",
    "decomposition_prompt",
    "format_previous",
    "parse_subquestions",
    "subquestion_prompt",
    # data
    "data_dir",
    "data_path",
    "read_jsonl",
]
