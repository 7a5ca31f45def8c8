"""FAISS index construction and search helpers for inner-product (cosine) similarity.

Index types:

* ``"flat"`` — ``IndexFlatIP``: exact; the default. From 20,000 vectors on (``prefilter="auto"``)
  searches first scan an 8-bit copy of the vectors and rescore the candidates exactly, with a
  proof that nothing was missed (:mod:`chainlab.selectors.prefilter`): the same results as the
  plain scan while reading a quarter of the bytes per query.
* ``"hnsw"`` — ``IndexHNSWFlat(d, M, METRIC_INNER_PRODUCT)``: approximate graph index for large
  sets (``hnsw_m``, ``ef_construction``, ``ef_search``).
* ``"ivf"`` — ``IndexIVFFlat`` over an ``IndexFlatIP`` quantizer: approximate, trained on the
  first batch added (``nlist`` lists, default ``~sqrt(n)`` capped at ``n/39``; ``nprobe`` lists searched).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import faiss
import numpy as np

from chainlab.selectors.prefilter import resolve_prefilter

__all__ = ["INDEX_TYPES", "IndexConfig", "new_index", "add_vectors", "configure_search", "flat_vectors"]

INDEX_TYPES = ("flat", "hnsw", "ivf")


@dataclass
class IndexConfig:
    """Index type and parameters (stored as JSON next to a saved index)."""

    index_type: str = "flat"
    hnsw_m: int = 32
    ef_construction: int = 200
    ef_search: int = 128
    nlist: int | None = None
    nprobe: int = 16
    prefilter: str | None = "auto"  # flat only: "auto", "sq8", "bf16", "fp16" or None

    def __post_init__(self) -> None:
        if self.index_type not in INDEX_TYPES:
            raise ValueError(f"index_type must be one of {INDEX_TYPES}, got {self.index_type!r}")
        self.prefilter = resolve_prefilter(self.prefilter)

    def to_dict(self) -> dict:
        """JSON-serialisable dict."""
        return asdict(self)


def new_index(config: IndexConfig, dim: int) -> faiss.Index:
    """An empty index of ``config.index_type`` for ``dim``-dimensional vectors."""
    if config.index_type == "flat":
        return faiss.IndexFlatIP(dim)
    if config.index_type == "hnsw":
        index = faiss.IndexHNSWFlat(dim, config.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = config.ef_construction
        configure_search(index, config)
        return index
    quantizer = faiss.IndexFlatIP(dim)
    # nlist is fixed when the first batch arrives (add_vectors builds the real index then).
    return faiss.IndexIVFFlat(quantizer, dim, max(1, config.nlist or 1), faiss.METRIC_INNER_PRODUCT)


def _ivf_for(config: IndexConfig, dim: int, n: int) -> faiss.Index:
    # ~sqrt(n) lists, and at least 39 training points per list (FAISS's own guideline).
    nlist = config.nlist or min(int(math.sqrt(n)), n // 39)
    nlist = max(1, min(nlist, n))
    quantizer = faiss.IndexFlatIP(dim)
    index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
    index.cp.min_points_per_centroid = max(1, min(39, n // nlist))  # no warning on small sets
    config.nlist = nlist
    return index


def add_vectors(index: faiss.Index, vectors: np.ndarray, config: IndexConfig) -> faiss.Index:
    """Add ``vectors`` (float32, ``(n, d)``); trains an untrained IVF index first.

    Returns the index (a new object when an IVF index is created on its first batch).
    """
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if len(vectors) == 0:
        return index
    if config.index_type == "ivf" and not index.is_trained:
        index = _ivf_for(config, vectors.shape[1], len(vectors))
        index.train(vectors)
        index.set_direct_map_type(faiss.DirectMap.Array)  # lets reconstruct() work (MMR, cache)
        configure_search(index, config)
    index.add(vectors)
    return index


def configure_search(index: faiss.Index, config: IndexConfig) -> None:
    """Apply the search-time parameters (``efSearch`` / ``nprobe``)."""
    if config.index_type == "hnsw":
        faiss.downcast_index(index).hnsw.efSearch = config.ef_search
    elif config.index_type == "ivf":
        faiss.extract_index_ivf(index).nprobe = config.nprobe


def flat_vectors(index: faiss.Index) -> np.ndarray:
    """Read-only ``(ntotal, d)`` float32 view of a flat index's stored vectors (no copy).

    The view is only valid until the next ``add`` (the storage may move); take a new one then.
    """
    flat = faiss.downcast_index(index)
    n, d = int(flat.ntotal), int(flat.d)
    if n == 0:
        return np.zeros((0, d), dtype=np.float32)
    view = faiss.rev_swig_ptr(flat.get_xb(), n * d).reshape(n, d)
    view.flags.writeable = False
    return view
