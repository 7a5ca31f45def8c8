"""Parsing of ``NAME=WEIGHT,...`` command-line options (``--kinds``, ``--mix``)."""

from __future__ import annotations


def parse_weights(text: str, option: str, example: str) -> dict[str, float]:
    """``"a=0.6,b=0.2"`` -> ``{"a": 0.6, "b": 0.2}``; a bare name weighs 1.

    Raises ValueError naming ``option`` and showing ``example`` for text that is not of that form
    or holds no entry, and for a weight below 0.
    """
    out: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, weight = part.partition("=")
        try:
            out[name.strip()] = float(weight) if sep else 1.0
        except ValueError:
            raise ValueError(f"{option}: {part!r} is not NAME=WEIGHT (e.g. {example})") from None
        if out[name.strip()] < 0:
            raise ValueError(f"{option}: the weight of {name.strip()!r} is negative")
    if not out:
        raise ValueError(f"{option} is empty; e.g. {option} {example}")
    return out
