"""An opt-in persistent LangChain cache in SQLite: re-runs answer finished calls from disk.

:class:`SQLiteCache` implements ``langchain_core.caches.BaseCache``, so it works with any LangChain
LLM or chat model, per LLM (``LocalLLM(..., cache=SQLiteCache(path))``, ``load_llm(...,
cache="runs/llm-cache.sqlite")``) or globally (``set_llm_cache(SQLiteCache(path))``).

* **JSON only**: generations are stored as JSON (text, ``generation_info``, chat messages via
  ``message_to_dict``) — nothing is unpickled or imported when reading, so a cache file cannot run
  code.
* **Keys**: SHA-256 of the prompt and of LangChain's ``llm_string`` (every identifying parameter,
  the stop list, the LLM type), plus an optional ``namespace``. A
  :class:`~chainlab.llms.LocalLLM`'s ``llm_string`` holds its model fingerprint (config, tokenizer
  and sampled weights, :func:`~chainlab.llms.call_cache.model_fingerprint`), so a different or
  re-trained model never hits another's entries; for other LLMs pass ``namespace=`` (e.g.
  ``model_fingerprint(model, tokenizer)``). The full prompt and ``llm_string`` are stored and
  compared too, so a hash collision cannot return a wrong entry.
* **Sampling without a seed** is neither stored nor served (when the ``llm_string`` says so): such
  calls must draw new samples. Seeded and greedy calls are cached per prompt, LangChain's way: a
  hit returns the generations the first run produced for that prompt.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from langchain_core.caches import RETURN_VAL_TYPE, BaseCache
from langchain_core.messages import message_to_dict, messages_from_dict
from langchain_core.outputs import ChatGeneration, Generation

__all__ = ["SQLiteCache", "is_unseeded_sampling"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS generations (
    key TEXT PRIMARY KEY,
    namespace TEXT NOT NULL,
    prompt TEXT NOT NULL,
    llm_string TEXT NOT NULL,
    value TEXT NOT NULL,
    created REAL NOT NULL
)
"""


def is_unseeded_sampling(llm_string: str) -> bool:
    """Whether an ``llm_string`` describes sampling without a seed (such calls are not cached).

    LangChain builds ``llm_string`` as ``str(sorted(params.items()))``; it is read back with
    ``ast.literal_eval`` (never ``eval``). Sampling means ``do_sample`` true, or ``temperature > 0``
    with ``do_sample`` unset, and ``temperature == 0`` means greedy — as in
    :class:`~chainlab.llms.options.GenerationOptions`. An unreadable string counts as cacheable.
    """
    try:
        items = ast.literal_eval(llm_string)
        params = dict(items)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return False
    temperature = params.get("temperature")
    do_sample = params.get("do_sample")
    if not isinstance(temperature, int | float | type(None)):
        return False
    if temperature is not None and temperature == 0:
        sampling = False
    elif do_sample is not None:
        sampling = bool(do_sample)
    else:
        sampling = temperature is not None and temperature > 0
    return sampling and params.get("seed") is None


def _dump(generations: Sequence[Generation]) -> str:
    out = []
    for g in generations:
        item: dict[str, Any] = {"text": g.text, "generation_info": g.generation_info}
        if isinstance(g, ChatGeneration):
            item["type"] = "chat"
            item["message"] = message_to_dict(g.message)
        else:
            item["type"] = "text"
        out.append(item)
    return json.dumps(out, ensure_ascii=False)


def _load(text: str) -> list[Generation]:
    out: list[Generation] = []
    for item in json.loads(text):
        info = item.get("generation_info")
        if item.get("type") == "chat":
            message = messages_from_dict([item["message"]])[0]
            out.append(ChatGeneration(message=message, generation_info=info))
        else:
            out.append(Generation(text=item["text"], generation_info=info))
    return out


class SQLiteCache(BaseCache):
    """A LangChain cache in one SQLite file (JSON values; see the module docstring).

    Args:
        path: the database file (created with its parent directory).
        namespace: an extra key part, e.g. a model fingerprint for LLMs whose ``llm_string``
            does not identify the weights. Entries of other namespaces are never returned.
        skip_unseeded_sampling: do not store or serve calls that sample without a seed.

    Example:
        >>> from chainlab.llms import load_llm, SQLiteCache
        >>> llm = load_llm("chainlab-tiny", cache=SQLiteCache("runs/llm-cache.sqlite"))  # doctest: +SKIP
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        namespace: str = "",
        skip_unseeded_sampling: bool = True,
    ) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.namespace = namespace
        self.skip_unseeded_sampling = skip_unseeded_sampling
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(str(self.path), check_same_thread=False, timeout=30.0)
        with self._lock, self._conn:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute(_SCHEMA)

    def __repr__(self) -> str:
        return f"SQLiteCache({str(self.path)!r}, namespace={self.namespace!r})"

    def _key(self, prompt: str, llm_string: str) -> str:
        h = hashlib.sha256()
        for part in (self.namespace, llm_string, prompt):
            data = part.encode("utf-8")
            h.update(len(data).to_bytes(8, "big"))
            h.update(data)
        return h.hexdigest()

    def _skip(self, llm_string: str) -> bool:
        return self.skip_unseeded_sampling and is_unseeded_sampling(llm_string)

    def lookup(self, prompt: str, llm_string: str) -> RETURN_VAL_TYPE | None:
        """The stored generations of (``prompt``, ``llm_string``), or None."""
        if self._skip(llm_string):
            return None
        with self._lock:
            row = self._conn.execute(
                "SELECT prompt, llm_string, namespace, value FROM generations WHERE key = ?",
                (self._key(prompt, llm_string),),
            ).fetchone()
        if row is None or tuple(row[:3]) != (prompt, llm_string, self.namespace):
            return None
        return _load(row[3])

    def update(self, prompt: str, llm_string: str, return_val: RETURN_VAL_TYPE) -> None:
        """Store ``return_val`` for (``prompt``, ``llm_string``) (replacing an older entry)."""
        if self._skip(llm_string):
            return
        value = _dump(return_val)
        with self._lock, self._conn:
            self._conn.execute(
                "INSERT OR REPLACE INTO generations VALUES (?, ?, ?, ?, ?, ?)",
                (
                    self._key(prompt, llm_string),
                    self.namespace,
                    prompt,
                    llm_string,
                    value,
                    time.time(),
                ),
            )

    def clear(self, **kwargs: Any) -> None:
        """Delete this namespace's entries (``all_namespaces=True``: every entry)."""
        with self._lock, self._conn:
            if kwargs.get("all_namespaces"):
                self._conn.execute("DELETE FROM generations")
            else:
                self._conn.execute("DELETE FROM generations WHERE namespace = ?", (self.namespace,))

    def __len__(self) -> int:
        with self._lock:
            row = self._conn.execute(
                "SELECT COUNT(*) FROM generations WHERE namespace = ?", (self.namespace,)
            ).fetchone()
        return int(row[0])

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self._conn.close()
