"""Stop sequences: end decoding when a stop string appears in a sequence's new text.

* :class:`StopOnSubstrings` is a transformers ``StoppingCriteria`` that finishes each row of a
  batch as soon as one of the stop strings appears in its generated text (other rows continue);
* :func:`find_stop` / :func:`tokens_until_stop` cut the final text and count the tokens used;
* :class:`StopBuffer` does the same for streamed text, holding back a possible stop prefix.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from transformers import StoppingCriteria


def find_stop(text: str, stops: Sequence[str]) -> int | None:
    """Index in ``text`` of the earliest occurrence of any stop string, or None."""
    hits = [i for i in (text.find(s) for s in stops if s) if i >= 0]
    return min(hits) if hits else None


def tokens_until_stop(tokenizer, ids: Sequence[int], stops: Sequence[str]) -> int | None:
    """Smallest ``k`` such that the decoded ``ids[:k]`` contains a stop string (None if never).

    The tokens ``ids[:k]`` are the ones the model generated up to and including the stop.
    """

    def has_stop(k: int) -> bool:
        return find_stop(tokenizer.decode(ids[:k], skip_special_tokens=True), stops) is not None

    if not ids or not has_stop(len(ids)):
        return None
    lo, hi = 1, len(ids)  # invariant: has_stop(hi)
    while lo < hi:
        mid = (lo + hi) // 2
        if has_stop(mid):
            hi = mid
        else:
            lo = mid + 1
    return hi


class StopOnSubstrings(StoppingCriteria):
    """Finish each sequence whose generated text contains one of ``stops``.

    Only the last few tokens of each row are decoded per step (enough to cover the longest
    stop string, each token being at least one byte), so the cost stays flat with length.

    Args:
        tokenizer: the model's tokenizer.
        stops: stop strings.
        prompt_length: length of the (padded) prompt; only tokens after it are searched.
    """

    def __init__(self, tokenizer, stops: Sequence[str], prompt_length: int) -> None:
        self.tokenizer = tokenizer
        self.stops = [s for s in stops if s]
        self.prompt_length = prompt_length
        self.window = max((len(s.encode("utf-8")) for s in self.stops), default=1) + 2

    def __call__(self, input_ids: torch.LongTensor, scores, **kwargs) -> torch.BoolTensor:
        done = torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
        new = input_ids[:, self.prompt_length :]
        if not self.stops or new.shape[1] == 0:
            return done
        tails = new[:, -self.window :].tolist()
        texts = self.tokenizer.batch_decode(tails, skip_special_tokens=True)
        for i, text in enumerate(texts):
            if find_stop(text, self.stops) is not None:
                done[i] = True
        return done


class CancelCriteria(StoppingCriteria):
    """Stop every row once ``event`` is set (used when a stream's consumer goes away)."""

    def __init__(self, event) -> None:
        self.event = event

    def __call__(self, input_ids: torch.LongTensor, scores, **kwargs) -> torch.BoolTensor:
        return torch.full(
            (input_ids.shape[0],), self.event.is_set(), dtype=torch.bool, device=input_ids.device
        )


class StopBuffer:
    """Incremental text with stop strings removed: push pieces, get the text safe to emit.

    Text that could be the start of a stop string is held back until it is disambiguated.
    """

    def __init__(self, stops: Sequence[str]) -> None:
        self.stops = [s for s in stops if s]
        self.hold = max((len(s) for s in self.stops), default=1) - 1
        self.text = ""
        self.emitted = 0
        self.stopped = False

    def push(self, piece: str) -> str:
        """Add ``piece``; return the newly emittable text (empty once a stop was seen)."""
        if self.stopped:
            return ""
        self.text += piece
        idx = find_stop(self.text, self.stops)
        if idx is not None:
            self.stopped = True
            out, self.emitted = self.text[self.emitted : idx], idx
            return out
        safe = max(self.emitted, len(self.text) - self.hold)
        out, self.emitted = self.text[self.emitted : safe], safe
        return out

    def flush(self) -> str:
        """The held-back rest at the end of generation (empty if a stop was seen)."""
        if self.stopped:
            return ""
        out, self.emitted = self.text[self.emitted :], len(self.text)
        return out
