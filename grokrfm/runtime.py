"""Process-level set-up for entry points (experiments, benchmarks, tests, notebooks).

The library itself never touches global configuration; an entry point calls
:func:`configure` once, before its first JAX computation.
"""

from __future__ import annotations

import os
import warnings

import jax
import numpy as np

# XLA:CPU in jaxlib 0.10 routes dots through YNNPACK fusions by default; on the skinny
# Gram (2n x N*c times its transpose) and the batched grid matmuls of the AGOP these run
# 1.5-3x slower than XLA's own kernels (measured by `make bench`). The flag is only set
# for jaxlib versions known to accept it: unknown XLA flags abort the process.
_CPU_FLAGS = "--xla_cpu_experimental_ynn_fusion_type="
_FLAG_VERSIONS = ((0, 10), (0, 11))


def _jaxlib_version() -> tuple[int, ...]:
    import jaxlib

    return tuple(int(p) for p in jaxlib.__version__.split(".")[:2] if p.isdigit())


class Float32Warning(UserWarning):
    """A result is being computed in float32 without anyone having asked for it."""


# What the last call of configure() chose for float64 (None: it was never called).
_chosen_x64: bool | None = None


def warn_if_float32(dtype) -> None:
    """Warn (:class:`Float32Warning`) when runs are set up in float32 only because
    float64 was never enabled: float64 is the CPU reference, and float32 changes results
    (it misses the asymmetry of a single moved point). Choosing float32 on purpose,
    with ``configure(x64=False)`` or an explicit dtype, is silent."""
    if np.dtype(dtype) != np.float32 or jax.config.jax_enable_x64 or _chosen_x64 is False:
        return
    warnings.warn(
        "grokrfm is computing in float32 because float64 is off: call grokrfm.configure() "
        "before the first JAX computation for the float64 reference, or "
        "grokrfm.configure(x64=False) to choose float32 (see the README's float32 notes)",
        Float32Warning,
        stacklevel=3,
    )


def configure(x64: bool = True, cpu_flags: bool = True) -> None:
    """Enable float64 (the CPU reference) and XLA:CPU flags that speed up the AGOP.

    Must run before the first JAX computation for ``cpu_flags`` to take effect (XLA reads
    its flags once, when the backend starts); ``x64`` can be switched any time before
    arrays are created.

    Args:
      x64: set ``jax_enable_x64``. Use False for the float32 accelerator path.
      cpu_flags: add the XLA:CPU flags above to ``XLA_FLAGS`` (no effect on GPU/TPU).
    """
    global _chosen_x64
    _chosen_x64 = bool(x64)
    jax.config.update("jax_enable_x64", x64)
    if cpu_flags and _FLAG_VERSIONS[0] <= _jaxlib_version() < _FLAG_VERSIONS[1]:
        flags = os.environ.get("XLA_FLAGS", "")
        if "ynn_fusion_type" not in flags:
            os.environ["XLA_FLAGS"] = f"{flags} {_CPU_FLAGS}".strip()
