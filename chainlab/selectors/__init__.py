"""chainlab.selectors: FAISS-backed semantic / MMR example selectors and a token-budget selector.

All implement ``langchain_core.example_selectors.BaseExampleSelector``.
"""

from chainlab.selectors.embeddings import (
    DEFAULT_MODEL_NAME,
    SentenceTransformerEmbeddings,
    default_embeddings,
    embedding_dimension,
    embedding_model_name,
)
from chainlab.selectors.index import INDEX_TYPES, IndexConfig
from chainlab.selectors.keys import ANSWER_LIKE_KEYS, infer_input_keys, is_answer_like
from chainlab.selectors.semantic import (
    MaxMarginalRelevanceExampleSelector,
    SemanticExampleSelector,
    mmr_select,
)
from chainlab.selectors.token_budget import TokenBudgetExampleSelector, make_token_counter

__all__ = [
    "ANSWER_LIKE_KEYS",
    "DEFAULT_MODEL_NAME",
    "INDEX_TYPES",
    "IndexConfig",
    "MaxMarginalRelevanceExampleSelector",
    "SemanticExampleSelector",
    "SentenceTransformerEmbeddings",
    "TokenBudgetExampleSelector",
    "default_embeddings",
    "embedding_dimension",
    "embedding_model_name",
    "infer_input_keys",
    "is_answer_like",
    "make_token_counter",
    "mmr_select",
]
