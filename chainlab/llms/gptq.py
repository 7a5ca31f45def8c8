"""GPTQ support shared by loading and quantizing: detection, dependency check, CPU setup."""

from __future__ import annotations

import importlib
import os
from typing import Any

from chainlab.llms.errors import MissingDependencyError

GPTQ_INSTALL_HINT = "pip install gptqmodel==7.6.0 optimum"


def quant_method(config: Any) -> str | None:
    """``quantization_config.quant_method`` of a transformers config (lower case), if any."""
    qc = getattr(config, "quantization_config", None)
    if qc is None:
        return None
    method = qc.get("quant_method") if isinstance(qc, dict) else getattr(qc, "quant_method", None)
    if method is None:
        return None
    return str(getattr(method, "value", method)).lower()


def is_gptq_config(config: Any) -> bool:
    """True when the config describes a GPTQ-quantized checkpoint."""
    return quant_method(config) == "gptq"


def prepare_cpu_workers() -> None:
    """Give gptqmodel's CPU thread pool at least 2 workers.

    gptqmodel 7.6.0 sizes its CPU pool to ``(cpu_count + 1) // 2`` but its model-loader pool asks
    for 2 workers, which fails with "Virtual pool 'model_loader:cpu' requests 2 workers but parent
    'cpu' only has 1" on 1-2 core machines. Must run before gptqmodel builds the pool.
    """
    if "GPTQMODEL_CPU_WORKERS" not in os.environ and ((os.cpu_count() or 1) + 1) // 2 < 2:
        os.environ["GPTQMODEL_CPU_WORKERS"] = "2"


def require_gptq(what: str) -> None:
    """Import gptqmodel and optimum or raise :class:`MissingDependencyError` naming the fix.

    Args:
        what: the checkpoint or action needing them, for the message.
    """
    prepare_cpu_workers()
    for name in ("gptqmodel", "optimum.gptq"):
        try:
            importlib.import_module(name)
        except Exception as exc:  # ImportError, or a broken install raising anything else
            raise MissingDependencyError(
                f"{what} needs gptqmodel and optimum, but `import {name}` failed ({exc}). "
                f"Install them: {GPTQ_INSTALL_HINT}"
            ) from exc
