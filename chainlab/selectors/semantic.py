"""Semantic-similarity example selectors backed by a FAISS index.

:class:`SemanticExampleSelector` implements ``langchain_core``'s ``BaseExampleSelector``, so it
plugs into ``FewShotPromptTemplate(example_selector=...)`` and
``FewShotChatMessagePromptTemplate(example_selector=...)``. Compared with LangChain's
``SemanticSimilarityExampleSelector`` it:

* embeds only the ``input_keys`` fields (default rule: see :mod:`chainlab.selectors.keys`),
  never the answers;
* uses FAISS (exact ``IndexFlatIP`` on L2-normalised vectors by default; ``"hnsw"``/``"ivf"``
  for large sets) without ``langchain-community``; from 20,000 examples the exact index scans an
  8-bit copy first and rescores exactly, with a completeness proof
  (:mod:`chainlab.selectors.prefilter`), so results stay exact;
* embeds each distinct text once (cache keyed by text; a query equal to a stored example's text
  reuses the stored vector);
* saves/loads with ``faiss.write_index``/``read_index`` + JSON — no pickle;
* offers MMR re-ranking (``mmr=True`` or :class:`MaxMarginalRelevanceExampleSelector`).
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import faiss
import numpy as np
from langchain_core.embeddings import Embeddings
from langchain_core.example_selectors import BaseExampleSelector
from tqdm.auto import tqdm

from chainlab.selectors.embeddings import (
    DEFAULT_MODEL_NAME,
    default_embeddings,
    embed_array,
    embedding_dimension,
    embedding_model_name,
)
from chainlab.selectors.index import (
    IndexConfig,
    add_vectors,
    configure_search,
    flat_vectors,
    new_index,
)
from chainlab.selectors.keys import infer_input_keys, validate_examples
from chainlab.selectors.prefilter import AUTO_MIN_VECTORS, AUTO_PREFILTER, ExactPrefilter

__all__ = ["SemanticExampleSelector", "MaxMarginalRelevanceExampleSelector", "mmr_select"]

FORMAT_NAME = "chainlab.semantic_example_selector"
FORMAT_VERSION = 1
INDEX_FILE, EXAMPLES_FILE, META_FILE = "index.faiss", "examples.json", "meta.json"
_QUERY_CACHE_SIZE = 1024


def mmr_select(
    query: np.ndarray, candidates: np.ndarray, k: int, lambda_mult: float = 0.5
) -> list[int]:
    """Maximal marginal relevance: pick ``k`` rows of ``candidates`` (cosine similarity).

    Each step takes the candidate maximising
    ``lambda_mult * sim(query, c) - (1 - lambda_mult) * max(sim(c, already chosen))``.
    """
    if len(candidates) == 0 or k <= 0:
        return []
    c = np.asarray(candidates, dtype=np.float32)
    norms = np.sqrt(np.einsum("ij,ij->i", c, c))
    if not np.allclose(norms, 1.0, atol=1e-4):  # stored vectors are usually normalised already
        c = c / np.maximum(norms, 1e-12)[:, None]
    q = query / max(float(np.linalg.norm(query)), 1e-12)
    to_query = c @ q
    chosen = [int(np.argmax(to_query))]
    max_to_chosen = c @ c[chosen[0]]
    while len(chosen) < min(k, len(c)):
        score = lambda_mult * to_query - (1.0 - lambda_mult) * max_to_chosen
        score[chosen] = -np.inf
        nxt = int(np.argmax(score))
        chosen.append(nxt)
        max_to_chosen = np.maximum(max_to_chosen, c @ c[nxt])
    return chosen


class SemanticExampleSelector(BaseExampleSelector):
    """Select the ``k`` examples most similar to the input, via FAISS.

    Args:
        examples: non-empty list of example dicts.
        embeddings: any LangChain ``Embeddings`` (default: bundled all-MiniLM-L6-v2).
        k: number of examples to select.
        input_keys: fields embedded (joined with newlines, in this order) and read from the
            prompt's input variables at selection time. Default: the first example's keys that
            are not answer-like (``answer``, ``output``, ``rationale``, ...).
        example_keys: if given, selected examples are reduced to these keys.
        index_type: ``"flat"`` (exact, default), ``"hnsw"`` or ``"ivf"`` (approximate).
        normalize: L2-normalise vectors so inner product = cosine similarity.
        mmr: re-rank ``fetch_k`` nearest candidates with maximal marginal relevance.
        fetch_k, lambda_mult: MMR candidate count and relevance/diversity trade-off.
        batch_size: texts per embedding call.
        show_progress: tqdm bar while embedding.
        hnsw_m, ef_construction, ef_search, nlist, nprobe: approximate-index parameters.
        prefilter: exact (``"flat"``) index only. ``"auto"`` (default): from 20,000 examples,
            find candidates in an 8-bit copy of the vectors and rescore them exactly, with a proof
            that no better example was left out (same results as a plain scan, a quarter of the
            memory read per query); ``"sq8"``/``"bf16"``/``"fp16"``: always, with that copy;
            ``None``: always scan the float32 vectors.

    Raises:
        ValueError: ``examples`` is empty.
        KeyError: an example lacks an input key (message names the example index and key).
    """

    def __init__(
        self,
        examples: Sequence[Mapping[str, Any]],
        *,
        embeddings: Embeddings | None = None,
        k: int = 4,
        input_keys: Sequence[str] | None = None,
        example_keys: Sequence[str] | None = None,
        index_type: str = "flat",
        normalize: bool = True,
        mmr: bool = False,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        batch_size: int = 64,
        show_progress: bool = False,
        hnsw_m: int = 32,
        ef_construction: int = 200,
        ef_search: int = 128,
        nlist: int | None = None,
        nprobe: int = 16,
        prefilter: str | None = "auto",
    ) -> None:
        examples = list(examples)
        if not examples:
            raise ValueError(
                f"{type(self).__name__} needs at least one example; got an empty list."
            )
        self._setup(
            embeddings=embeddings,
            k=k,
            input_keys=list(input_keys) if input_keys else infer_input_keys(examples[0]),
            example_keys=list(example_keys) if example_keys else None,
            config=IndexConfig(
                index_type, hnsw_m, ef_construction, ef_search, nlist, nprobe, prefilter
            ),
            normalize=normalize,
            mmr=mmr,
            fetch_k=fetch_k,
            lambda_mult=lambda_mult,
            batch_size=batch_size,
            show_progress=show_progress,
        )
        self.add_examples(examples)

    def _setup(
        self,
        *,
        embeddings: Embeddings | None,
        k: int,
        input_keys: list[str],
        example_keys: list[str] | None,
        config: IndexConfig,
        normalize: bool,
        mmr: bool,
        fetch_k: int,
        lambda_mult: float,
        batch_size: int,
        show_progress: bool,
    ) -> None:
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        self.embeddings = embeddings if embeddings is not None else default_embeddings()
        self.model_name = embedding_model_name(self.embeddings)
        self.k = k
        self.input_keys = input_keys
        self.example_keys = example_keys
        self.config = config
        self.normalize = normalize
        self.mmr = mmr
        self.fetch_k = fetch_k
        self.lambda_mult = lambda_mult
        self.batch_size = batch_size
        self.show_progress = show_progress
        self.examples: list[dict[str, Any]] = []
        self.dimension: int | None = None
        self.index: faiss.Index | None = None
        self.num_embedded = 0  # example texts sent to the embedding model (cache misses)
        self.num_query_embedded = 0  # query texts sent to the embedding model
        self._text_rows: dict[str, int] = {}
        self._query_cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._prefilter: ExactPrefilter | None = None
        self._vectors: np.ndarray | None = None  # view of the flat index's vectors (flat only)

    # ------------------------------------------------------------------ building
    @classmethod
    def from_jsonl(
        cls,
        path: str | os.PathLike[str],
        input_keys: Sequence[str] | None = None,
        *,
        limit: int | None = None,
        transform: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
        show_progress: bool = True,
        **kwargs: Any,
    ) -> SemanticExampleSelector:
        """Build from a JSON-lines file (one example object per line), with a progress bar.

        Args:
            path: the ``.jsonl`` file.
            input_keys: fields to embed (default rule as in the constructor).
            limit: read at most this many rows.
            transform: optional function applied to each row (e.g. to add a CoT rationale).
            show_progress: tqdm bar while embedding.
            **kwargs: constructor arguments (``embeddings``, ``k``, ``index_type``, ...).
        """
        from chainlab.prompts.datasets import read_jsonl

        rows = list(read_jsonl(path, limit=limit))
        if transform is not None:
            rows = [transform(r) for r in rows]
        if not rows:
            raise ValueError(f"{path}: no examples found (empty file?).")
        return cls(rows, input_keys=input_keys, show_progress=show_progress, **kwargs)

    def example_text(self, example: Mapping[str, Any]) -> str:
        """The text embedded for ``example``: its ``input_keys`` values joined by newlines."""
        return "\n".join(str(example[key]) for key in self.input_keys)

    def add_example(self, example: dict[str, Any]) -> int:
        """Add one example (``BaseExampleSelector`` interface); returns its row number."""
        return self.add_examples([example])[0]

    def add_examples(self, examples: Iterable[Mapping[str, Any]]) -> list[int]:
        """Add examples incrementally; texts already embedded are not embedded again.

        Returns:
            The row numbers of the new examples.
        """
        examples = [dict(e) for e in examples]
        validate_examples(examples, self.input_keys, start=len(self.examples))
        if not examples:
            return []
        texts = [self.example_text(e) for e in examples]
        new_texts = list(dict.fromkeys(t for t in texts if t not in self._text_rows))
        new_vecs = self._embed(new_texts, progress=self.show_progress)
        self.num_embedded += len(new_texts)
        first = len(self.examples)
        fresh = {t: i for i, t in enumerate(new_texts)}
        rows = np.empty((len(texts), self._dim_or(new_vecs)), dtype=np.float32)
        for i, text in enumerate(texts):
            if text in fresh:
                rows[i] = new_vecs[fresh[text]]
            else:
                rows[i] = self.index.reconstruct(self._text_rows[text])
        if self.index is None:
            self.index = new_index(self.config, rows.shape[1])
        self.index = add_vectors(self.index, rows, self.config)
        self._sync_flat(rows)
        for i, text in enumerate(texts):
            self._text_rows.setdefault(text, first + i)
        self.examples.extend(examples)
        return list(range(first, first + len(examples)))

    def _sync_flat(self, new_rows: np.ndarray | None = None) -> None:
        """Refresh the float32 view and the exact prefilter after the flat index changed.

        ``new_rows`` are the vectors just appended (None: rebuild from the whole index).
        """
        if self.config.index_type != "flat" or self.index is None:
            self._vectors = self._prefilter = None
            return
        self._vectors = flat_vectors(self.index)
        n = len(self._vectors)
        kind = self.config.prefilter
        if kind == "auto":
            kind = AUTO_PREFILTER if n >= AUTO_MIN_VECTORS else None
        if kind is None:
            self._prefilter = None
            return
        pf = self._prefilter
        if (
            pf is None
            or pf.kind != kind
            or new_rows is None
            or pf.ntotal + len(new_rows) != n
            or pf.needs_rebuild(new_rows)
        ):
            pf = ExactPrefilter(kind, self._vectors.shape[1])
            pf.rebuild(self._vectors)
        else:
            pf.add(new_rows)
        self._prefilter = pf

    def _dim_or(self, vecs: np.ndarray) -> int:
        if self.dimension is None:
            self.dimension = int(vecs.shape[1])
        elif vecs.shape[0] and vecs.shape[1] != self.dimension:
            raise ValueError(
                f"Embedding dimension changed: index has {self.dimension}, "
                f"model returned {vecs.shape[1]}."
            )
        return self.dimension

    def _embed(self, texts: list[str], progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension or 0), dtype=np.float32)
        # Embed in length order so each batch pads little; results go back to input order.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        vecs: np.ndarray | None = None
        with tqdm(total=len(texts), desc="Embedding examples", unit="ex", disable=not progress) as bar:
            for start in range(0, len(texts), self.batch_size):
                idx = order[start : start + self.batch_size]
                out = embed_array(self.embeddings, [texts[i] for i in idx])
                if vecs is None:
                    vecs = np.empty((len(texts), out.shape[1]), dtype=np.float32)
                vecs[idx] = out
                bar.update(len(idx))
        assert vecs is not None
        if self.normalize:
            faiss.normalize_L2(vecs)
        return vecs

    def __len__(self) -> int:
        return len(self.examples)

    # ------------------------------------------------------------------ querying
    def query_text(self, input_variables: Mapping[str, Any]) -> str:
        """The query text for ``input_variables``: the ``input_keys`` present, newline-joined.

        Raises:
            KeyError: none of the ``input_keys`` is among the input variables.
        """
        present = [key for key in self.input_keys if key in input_variables]
        if not present:
            raise KeyError(
                f"None of the selector's input_keys {self.input_keys} is in the input variables "
                f"{sorted(input_variables)}; name the prompt variable like the example field."
            )
        return "\n".join(str(input_variables[key]) for key in present)

    def embed_query(self, text: str) -> np.ndarray:
        """Query vector (cached; a stored example's text reuses its stored vector)."""
        if text in self._query_cache:
            self._query_cache.move_to_end(text)
            return self._query_cache[text]
        row = self._text_rows.get(text)
        if row is not None:
            vec = self.index.reconstruct(row)
        else:
            vec = self._embed([text])[0]
            self.num_query_embedded += 1
        self._query_cache[text] = vec
        if len(self._query_cache) > _QUERY_CACHE_SIZE:
            self._query_cache.popitem(last=False)
        return vec

    def search_by_vector(self, vector: np.ndarray, k: int | None = None) -> list[tuple[int, float]]:
        """``(row, score)`` pairs for a query vector (no embedding), best first.

        With ``mmr`` the ``fetch_k`` nearest are re-ranked by MMR (scores stay similarities).
        Asking for more than the store holds returns everything, with a warning.
        """
        k = self._check_k(self.k if k is None else k)
        q = np.asarray(vector, dtype=np.float32).reshape(1, -1)
        if not q.flags.c_contiguous:
            q = np.ascontiguousarray(q)
        if q.shape[1] != self.index.d:
            raise ValueError(
                f"Query vector has dimension {q.shape[1]}, the index holds dimension {self.index.d}."
            )
        fetch = min(max(self.fetch_k, k), len(self.examples)) if self.mmr else k
        vectors = self._vectors
        if vectors is not None and len(vectors) != self.index.ntotal:  # index grown behind our back
            self._sync_flat()
            vectors = self._vectors
        if self._prefilter is not None:
            scores, ids = self._prefilter.search(vectors, q, fetch)
            hits = list(zip(ids.tolist(), scores.tolist(), strict=True))
        else:
            scores, ids = self.index.search(q, fetch)
            hits = [(i, s) for i, s in zip(ids[0].tolist(), scores[0].tolist(), strict=True) if i >= 0]
        if not self.mmr:
            return hits[:k]
        rows = np.fromiter((i for i, _ in hits), dtype=np.int64, count=len(hits))
        cand = vectors[rows] if vectors is not None else self.index.reconstruct_batch(rows)
        order = mmr_select(q[0], cand, k, self.lambda_mult)
        return [hits[j] for j in order]

    def _check_k(self, k: int) -> int:
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        if k > len(self.examples):
            warnings.warn(
                f"Asked for {k} examples but the selector holds only {len(self.examples)}; "
                f"returning all {len(self.examples)}.",
                stacklevel=3,
            )
            return len(self.examples)
        return k

    def select_by_vector(self, vector: np.ndarray, k: int | None = None) -> list[dict[str, Any]]:
        """Examples nearest to a precomputed query vector (no embedding), best first."""
        return [self._output(r) for r, _ in self.search_by_vector(vector, k)]

    def similarity_search(self, query: str, k: int | None = None) -> list[tuple[dict[str, Any], float]]:
        """``(example, score)`` pairs most similar to the query text, best first."""
        return [(self._output(r), s) for r, s in self.search_by_vector(self.embed_query(query), k)]

    def select_examples(self, input_variables: dict[str, Any], k: int | None = None) -> list[dict[str, Any]]:
        """Examples most similar to the input variables' ``input_keys`` (``BaseExampleSelector``)."""
        vec = self.embed_query(self.query_text(input_variables))
        return [self._output(r) for r, _ in self.search_by_vector(vec, k)]

    def _output(self, row: int) -> dict[str, Any]:
        ex = self.examples[row]
        if self.example_keys:
            return {key: ex[key] for key in self.example_keys if key in ex}
        return dict(ex)

    # ------------------------------------------------------------------ persistence
    def save(self, directory: str | os.PathLike[str]) -> Path:
        """Write ``index.faiss`` (``faiss.write_index``), ``examples.json`` and ``meta.json``.

        No pickle: the examples and settings are JSON, the index is FAISS's own format.
        """
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        faiss.write_index(self.index, str(d / INDEX_FILE))
        (d / EXAMPLES_FILE).write_text(json.dumps(self.examples, ensure_ascii=False), encoding="utf-8")
        meta = {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "embedding_model": self.model_name,
            "dimension": self.dimension,
            "normalize": self.normalize,
            "index": self.config.to_dict(),
            "input_keys": self.input_keys,
            "example_keys": self.example_keys,
            "k": self.k,
            "mmr": self.mmr,
            "fetch_k": self.fetch_k,
            "lambda_mult": self.lambda_mult,
            "count": len(self.examples),
            "index_sha256": _sha256(d / INDEX_FILE),
            "faiss_version": faiss.__version__,
        }
        (d / META_FILE).write_text(json.dumps(meta, indent=2), encoding="utf-8")
        return d

    @classmethod
    def load(
        cls,
        directory: str | os.PathLike[str],
        embeddings: Embeddings | None = None,
        **overrides: Any,
    ) -> SemanticExampleSelector:
        """Load a selector written by :meth:`save`.

        Args:
            directory: the save directory.
            embeddings: the embedding model; default: the bundled MiniLM when the index was
                built with it. Its name and dimension must match the saved ones.
            **overrides: ``k``, ``mmr``, ``fetch_k``, ``lambda_mult``, ``batch_size``,
                ``show_progress``, ``ef_search``, ``nprobe``, ``prefilter``.

        Raises:
            FileNotFoundError: a file is missing.
            ValueError: different embedding model or dimension, corrupted or mismatched index.
        """
        d = Path(directory)
        for name in (META_FILE, EXAMPLES_FILE, INDEX_FILE):
            if not (d / name).is_file():
                raise FileNotFoundError(f"{d / name} not found: not a saved {cls.__name__}.")
        try:
            meta = json.loads((d / META_FILE).read_text(encoding="utf-8"))
            examples = json.loads((d / EXAMPLES_FILE).read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ValueError(f"{d}: corrupted selector metadata/examples ({e}).") from e
        if meta.get("format") != FORMAT_NAME or meta.get("version") != FORMAT_VERSION:
            raise ValueError(f"{d / META_FILE}: not a {FORMAT_NAME} v{FORMAT_VERSION} file.")
        if embeddings is None:
            if meta["embedding_model"] != DEFAULT_MODEL_NAME:
                raise ValueError(
                    f"The index in {d} was built with {meta['embedding_model']!r}; pass that "
                    "model as embeddings=."
                )
            embeddings = default_embeddings()
        name = embedding_model_name(embeddings)
        if name != meta["embedding_model"]:
            raise ValueError(
                f"Embedding model mismatch: the index in {d} was built with "
                f"{meta['embedding_model']!r} but the given embeddings are {name!r}."
            )
        dim = embedding_dimension(embeddings)
        if dim != meta["dimension"]:
            raise ValueError(
                f"Embedding dimension mismatch: the index in {d} has dimension "
                f"{meta['dimension']} but {name!r} produces {dim}."
            )
        if _sha256(d / INDEX_FILE) != meta.get("index_sha256"):
            raise ValueError(f"{d / INDEX_FILE} is corrupted (checksum differs from meta.json).")
        try:
            index = faiss.read_index(str(d / INDEX_FILE))
        except RuntimeError as e:
            raise ValueError(f"{d / INDEX_FILE} is corrupted or unreadable by FAISS: {e}") from e
        if index.ntotal != len(examples) or index.d != dim:
            raise ValueError(
                f"{d}: index holds {index.ntotal} vectors of dimension {index.d}, but there are "
                f"{len(examples)} examples and the model dimension is {dim}."
            )
        config = IndexConfig(**meta["index"])
        for key in ("ef_search", "nprobe", "prefilter"):
            if key in overrides:
                setattr(config, key, overrides.pop(key))
        config.__post_init__()  # validate overrides
        configure_search(index, config)
        self = cls.__new__(cls)
        settings = {
            "k": meta["k"],
            "mmr": meta["mmr"],
            "fetch_k": meta["fetch_k"],
            "lambda_mult": meta["lambda_mult"],
            "batch_size": 64,
            "show_progress": False,
        }
        unknown = set(overrides) - set(settings)
        if unknown:
            raise TypeError(f"Unknown load() overrides: {sorted(unknown)}")
        settings.update(overrides)
        self._setup(
            embeddings=embeddings,
            input_keys=meta["input_keys"],
            example_keys=meta["example_keys"],
            config=config,
            normalize=meta["normalize"],
            **settings,
        )
        self.index, self.dimension, self.examples = index, dim, examples
        self._sync_flat()
        for i, ex in enumerate(examples):
            self._text_rows.setdefault(self.example_text(ex), i)
        return self


class MaxMarginalRelevanceExampleSelector(SemanticExampleSelector):
    """:class:`SemanticExampleSelector` with MMR re-ranking on (``mmr=True``) by default.

    Fetches the ``fetch_k`` nearest examples, then greedily picks ``k`` of them trading
    similarity to the query (``lambda_mult``) against similarity to those already picked.
    """

    def __init__(self, examples: Sequence[Mapping[str, Any]], **kwargs: Any) -> None:
        kwargs.setdefault("mmr", True)
        super().__init__(examples, **kwargs)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
