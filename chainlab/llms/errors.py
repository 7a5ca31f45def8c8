"""Exceptions of :mod:`chainlab.llms`; each message names the problem and the fix."""

from __future__ import annotations


class ModelNotFoundError(FileNotFoundError):
    """A model or adapter is neither a local directory, a packaged name, nor reachable on the Hub."""


class AdapterMismatchError(ValueError):
    """A PEFT adapter was trained for a different base model than the one it is loaded onto."""


class PromptTooLongError(ValueError):
    """A prompt has more tokens than the model's context window."""


class MissingDependencyError(ImportError):
    """An optional package needed for this checkpoint (e.g. gptqmodel for GPTQ) is not importable."""
