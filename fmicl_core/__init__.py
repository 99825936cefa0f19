"""fmicl_core: the f-MICL objective family and a compact contrastive trainer.

The loss functions are re-exported lazily (``from fmicl_core import fmicl_loss``) so that
``python -m fmicl_core.<module>`` runs each module exactly once.
"""

from importlib import import_module

_LOSSES = (
    "FMICLLoss",
    "FMICLTerms",
    "align_loss",
    "dv_kl_loss",
    "fmicl_loss",
    "fmicl_terms",
    "infonce_loss",
    "spectral_loss",
    "uniform_loss",
)

__all__ = list(_LOSSES)


def __getattr__(name: str):
    if name in _LOSSES:
        return getattr(import_module("fmicl_core.losses"), name)
    raise AttributeError(f"module 'fmicl_core' has no attribute {name!r}")
