"""Answer extraction and normalization for model completions (no ``eval``, only regexes).

* numbers: ``"$1,450.00 dollars"`` -> ``"1450"``, ``"18.0"`` -> ``"18"``, ``"-3.50"`` -> ``"-3.5"``;
* expressions (Game of 24): canonical whitespace, ``×``/``÷`` mapped to ``*``/``/``;
* free text: lower-cased, whitespace collapsed, trailing punctuation stripped.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

__all__ = [
    "normalize_number",
    "extract_number",
    "extract_first_number",
    "normalize_expression",
    "normalize_text",
    "parse_verdict_line",
]

_NUMBER_RE = re.compile(r"-?\$?\s?\d[\d,]*(?:\.\d+)?|-?\.\d+")
_ANSWER_CUES = (
    re.compile(r"(?i)####\s*(.+)"),
    re.compile(r"(?i)the\s+(?:final\s+)?answer\s+is\s*:?\s*(.+)"),
    re.compile(r"(?i)answer\s*:\s*(.+)"),
)


def normalize_number(text: object) -> str | None:
    """Canonical string of the first number in ``text`` (or of a number), else None.

    Thousands separators, currency signs, units and trailing zeros are dropped:
    ``normalize_number("18.0") == normalize_number("$18") == "18"``.
    """
    if text is None:
        return None
    if isinstance(text, int | float | Decimal) and not isinstance(text, bool):
        raw = str(text)
    else:
        m = _NUMBER_RE.search(str(text))
        if not m:
            return None
        raw = m.group(0)
    raw = raw.replace(",", "").replace("$", "").replace(" ", "")
    try:
        value = Decimal(raw)
    except InvalidOperation:
        return None
    if not value.is_finite():
        return None
    if value == value.to_integral_value():
        return str(int(value))
    return format(value.normalize(), "f")


def extract_first_number(text: str) -> str | None:
    """The first number in ``text``, normalized (zero-shot-CoT answer extraction)."""
    return normalize_number(text)


def extract_number(text: str) -> str | None:
    """The final numeric answer of a completion, normalized.

    Looks for ``#### n``, ``The answer is n`` or ``Answer: n`` (last occurrence wins) and falls back
    to the last number in the text. None when the text holds no number.
    """
    if not text:
        return None
    for cue in _ANSWER_CUES:
        hits = [m.group(1) for m in cue.finditer(text)]
        for hit in reversed(hits):
            value = normalize_number(hit)
            if value is not None:
                return value
    numbers = _NUMBER_RE.findall(text)
    return normalize_number(numbers[-1]) if numbers else None


_OP_MAP = {"×": "*", "x": "*", "X": "*", "÷": "/", "−": "-", "–": "-"}
_EXPR_TOKEN = re.compile(r"\d+(?:/\d+)?|[-+*/()×÷−–xX]")


def normalize_expression(text: str | None) -> str | None:
    """Canonical spacing of an arithmetic expression: ``"(5*(10-4)) -6"`` -> ``"(5 * (10 - 4)) - 6"``.

    Text after ``=`` is dropped. None for empty text or text with other characters.
    """
    if not text:
        return None
    expr = re.sub(r"(?i)^\s*answer\s*:\s*", "", text.strip()).split("=")[0]
    tokens = _EXPR_TOKEN.findall(expr)
    if not tokens or re.sub(r"\s+", "", expr) != "".join(tokens):
        return None
    out = ""
    for tok in tokens:
        tok = _OP_MAP.get(tok, tok)
        if tok in "+-*/":
            out += f" {tok} "
        else:
            out += tok
    return re.sub(r"\s+", " ", out).strip()


def normalize_text(text: str | None) -> str | None:
    """Lower-cased, whitespace-collapsed text without surrounding quotes or final punctuation."""
    if text is None:
        return None
    out = re.sub(r"\s+", " ", str(text)).strip().strip("\"'`").rstrip(".!").strip().lower()
    return out or None


_VERDICT_RE = re.compile(r"(?i)verdict\s*:\s*(correct|incorrect)")
_WORD_RE = re.compile(r"(?i)\b(incorrect|correct|wrong|right|yes|no)\b")


def parse_verdict_line(text: str) -> bool | None:
    """True/False from a ``Verdict: correct|incorrect`` line, else from the first verdict word."""
    m = _VERDICT_RE.search(text or "")
    if m:
        return m.group(1).lower() == "correct"
    m = _WORD_RE.search(text or "")
    if not m:
        return None
    return m.group(1).lower() in ("correct", "right", "yes")
