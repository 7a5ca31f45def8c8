"""Where a model or adapter comes from: a packaged name, a local directory, or a Hub id."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from chainlab.llms.errors import ModelNotFoundError
from chainlab.models.registry import packaged_path


@dataclass(frozen=True)
class Source:
    """A resolved model/adapter reference: ``ref`` is a local path or a Hub id."""

    name: str
    ref: str
    local: bool

    @property
    def path(self) -> Path | None:
        """The local directory, or None for a Hub id."""
        return Path(self.ref) if self.local else None


def _looks_like_path(name: str) -> bool:
    return (
        name.startswith(("/", "./", "../", "~", "."))
        or name.count("/") > 1
        or "\\" in name
        or name.endswith("/")
    )


def offline_note() -> str:
    """How the Hub is configured here, for error messages."""
    flags = [f"{v}={os.environ[v]}" for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE") if os.environ.get(v)]
    return f" (currently {', '.join(flags)})" if flags else ""


def resolve(name: str | os.PathLike, kind: str = "model") -> Source:
    """Resolve ``name``: packaged name first, then an existing local directory, else a Hub id.

    Raises:
        ModelNotFoundError: ``name`` looks like a path but does not exist, or is a file.
        FileNotFoundError: a packaged name whose files are missing from this install.
    """
    text = os.fspath(name)
    if not isinstance(name, os.PathLike):
        packaged = packaged_path(text)
        if packaged is not None:
            return Source(text, str(packaged), True)
    path = Path(text).expanduser()
    if path.exists():
        if not path.is_dir():
            raise ModelNotFoundError(
                f"The {kind} path {str(path)!r} is a file; give the directory that holds its "
                f"{'adapter_config.json' if kind == 'adapter' else 'config.json'}."
            )
        return Source(text, str(path.resolve()), True)
    if isinstance(name, os.PathLike) or _looks_like_path(text):
        raise ModelNotFoundError(
            f"The {kind} directory {text!r} does not exist. Check the path, or give a Hub id "
            f"(e.g. 'TheBloke/Llama-2-13B-chat-GPTQ') or a packaged name such as 'chainlab-tiny'."
        )
    return Source(text, text, False)


def hub_unreachable(kind: str, name: str, exc: BaseException) -> ModelNotFoundError:
    """The error for a Hub id that is neither cached nor downloadable."""
    return ModelNotFoundError(
        f"The {kind} {name!r} is not a local directory or a packaged name, and it is not in the "
        f"local Hugging Face cache. Downloading it from the Hub needs network access with "
        f"HF_HUB_OFFLINE and TRANSFORMERS_OFFLINE unset{offline_note()}. Give a local directory, "
        f"or download it first (`huggingface-cli download {name}`). Cause: {exc}"
    )
