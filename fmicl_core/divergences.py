"""The f-divergences of f-MICL: f, f', the monotone conjugate f*, and the closed-form per-pair terms.

Lu et al. 2023, "f-MICL" (TMLR, arXiv:2402.10150), Table 1 and its appendix. For the f-Gaussian similarity
``G(d) = mu * exp(-c d)`` with ``d = ||x - y||^2`` and ``c = 1 / (2 sigma^2)``, the loss uses

    A(d) = f'(G(d))           (positive pairs)
    B(d) = f*(f'(G(d)))       (negative pairs)

Both are written here in closed form as functions of ``log G`` (never ``f*`` applied to a computed
``f'``, which leaves dom f* for JS, SH and VLC and overflows). By the Fenchel-Young equality,
``f*(f'(u)) = u f'(u) - f(u)``. Every such term is a :class:`Term`, ``scale * phi(slope * x + shift)
+ offset`` for one of six elementwise functions ``phi``, so that the loss can evaluate it and its
derivative over a whole Gram matrix in one pass (:mod:`fmicl_core.fused`).

Corrections to the paper's table, each checked by a test:
- VLC: ``f*(f'(u)) = 3 - (8u + 4)/(u + 1)^2`` (the paper prints ``3 - 4/(u + 1)``, which is 1 at u = 1).
- Tsallis: ``f(u) = (u^beta - 1)/(beta - 1)`` so that f(1) = 0; f' is the paper's, and
  ``f*(f'(u)) = u^beta + 1/(beta - 1)`` (the constant does not change any gradient).

For the cosine similarity, the score ``v = cos / tau`` is mapped into dom f* by the f-GAN output
activation ``g_f`` (Nowozin et al. 2016, f-GAN, arXiv:1606.00709, Table 2); VLC and Tsallis are not in that table and use
``g_f(v) = f'(e^v)``, which maps the real line onto the range of f'.

Exponentials that grow with the distance (RKL, SH, Neyman, and every cosine form) go through
:func:`exp_lin`, which continues ``exp`` linearly above ``EXP_CAP`` so that losses and gradients stay
finite in float32 and bfloat16 for every distance, down to the paper's smallest sigma and below. The
exponentials that grow with ``mu`` (the negative terms of KL, Pearson, SH and Tsallis, the positive
terms of Pearson and Tsallis) are exact; the ranges of mu and of the Tsallis order allowed by
:mod:`fmicl_core.objective_config` keep them finite.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor

from fmicl_core import validation

__all__ = ["Divergence", "EXP_CAP", "PHI", "Term", "exp_lin", "get", "names", "table"]

EXP_CAP = 50.0
DEFAULT_BETA = 2.0  # the Tsallis order of ``get("tsallis")``
BETA_RANGE = (1.1, 5.0)
"""Allowed Tsallis orders: ``beta -> 1`` sends ``beta/(beta - 1)``, the power of the cosine form's
negative term, to infinity, and beyond 5 the gradient of ``alpha G^beta`` overflows float32 at the
largest mu, alpha and ``1/sigma`` that :mod:`fmicl_core.objective_config` allows."""
LOG2 = math.log(2.0)

Fn = Callable[[Tensor], Tensor]


def exp_lin(x: Tensor) -> Tensor:
    """``exp(x)`` for ``x <= EXP_CAP``, continued by its tangent line above (C^1, increasing, convex)."""
    capped = x.clamp(max=EXP_CAP)
    return torch.exp(capped) * (1.0 + (x - capped))


PHI: dict[str, Fn] = {
    "exp": torch.exp,
    "exp_lin": exp_lin,
    "softplus": lambda x: torch.logaddexp(x, x.new_zeros(())),  # exact; F.softplus returns x above 20
    "sigmoid_sq": lambda x: torch.sigmoid(x) ** 2,
    "identity": lambda x: x,
    "relu_sq": lambda x: x.clamp(min=0.0) ** 2,
}
"""The elementwise functions of which every term of the objective is an affine transform."""


@dataclass(frozen=True)
class Term:
    """The elementwise term ``scale * phi(slope * x + shift) + offset``, ``phi`` named in :data:`PHI`."""

    phi: str
    slope: float = 1.0
    shift: float = 0.0
    scale: float = 1.0
    offset: float = 0.0

    def __post_init__(self) -> None:
        validation.choice("phi", self.phi, PHI)
        for key in ("slope", "shift", "scale", "offset"):
            object.__setattr__(self, key, validation.number(key, getattr(self, key)))

    def __call__(self, x: Tensor) -> Tensor:
        return self.scale * PHI[self.phi](self.slope * x + self.shift) + self.offset


@dataclass(frozen=True)
class Divergence:
    """One f-divergence of the paper's Table 1, with everything the objective needs.

    The terms ``pos_log(l)`` and ``neg_log(l)`` are ``A`` and ``B`` as functions of ``l = log G``;
    ``activation(v)`` is ``g_f`` and ``conj_activation(v) = f*(g_f(v))``, each a closed-form :class:`Term`.
    ``conj_domain`` is the open interval (range of f' on u > 0) on which the formula for f* holds;
    below it the monotone conjugate is the constant ``-f(0)``.
    ``h_shape`` is the shape of ``h(t) = f* o f' o G(t)`` on [0, 4]: the uniformity theorem needs
    "strictly convex".
    """

    name: str
    title: str
    f_text: str
    A_text: str
    B_text: str
    h_shape: str
    f: Fn
    f_prime: Fn
    f_conj: Fn
    conj_domain: tuple[float, float]
    pos_log: Term
    neg_log: Term
    activation: Term
    conj_activation: Term

    @property
    def uniformity_guaranteed(self) -> bool:
        """f-MICL Theorem 3 (uniformity): if h is strictly convex on [0, 4] and 2 <= N <= d + 1, every
        minimiser of the negative term is a regular simplex centred at the origin."""
        return self.h_shape == "strictly convex"

    def A(self, d: Tensor, c: float = 1.0, mu: float = 1.0) -> Tensor:
        """Positive-pair score ``f'(mu exp(-c d))`` (f-MICL Table 1, in closed form)."""
        return self.pos_log(_log_kernel(d, c, mu))

    def B(self, d: Tensor, c: float = 1.0, mu: float = 1.0) -> Tensor:
        """Negative-pair penalty ``f*(f'(mu exp(-c d)))`` (f-MICL Table 1, in closed form)."""
        return self.neg_log(_log_kernel(d, c, mu))


def _log_kernel(d: Tensor, c: object, mu: object) -> Tensor:
    """``log G = log mu - c d`` for positive ``c`` and ``mu``."""
    return math.log(validation.positive("mu", mu)) - validation.positive("c", c) * d


def _kl() -> Divergence:
    return Divergence(
        name="kl", title="Kullback-Leibler", f_text="u log u",
        A_text="1 + log mu - c d", B_text="mu exp(-c d)", h_shape="strictly convex",
        f=lambda u: torch.xlogy(u, u),
        f_prime=lambda u: torch.log(u) + 1.0,
        f_conj=lambda t: torch.exp(t - 1.0),
        conj_domain=(-math.inf, math.inf),
        pos_log=Term("identity", offset=1.0),
        neg_log=Term("exp"),
        activation=Term("identity"),
        conj_activation=Term("exp_lin", shift=-1.0),
    )


def _js() -> Divergence:
    return Divergence(
        name="js", title="Jensen-Shannon", f_text="u log u - (u+1) log((u+1)/2)",
        A_text="log 2 - softplus(c d - log mu)", B_text="softplus(log mu - c d) - log 2",
        h_shape="strictly convex",
        f=lambda u: torch.xlogy(u, u) - (u + 1.0) * torch.log((u + 1.0) / 2.0),
        f_prime=lambda u: LOG2 + torch.log(u / (1.0 + u)),
        f_conj=lambda t: -torch.log(2.0 - torch.exp(t)),
        conj_domain=(-math.inf, LOG2),
        pos_log=Term("softplus", slope=-1.0, scale=-1.0, offset=LOG2),
        neg_log=Term("softplus", offset=-LOG2),
        activation=Term("softplus", slope=-1.0, scale=-1.0, offset=LOG2),
        conj_activation=Term("softplus", offset=-LOG2),
    )


def _pearson() -> Divergence:
    return Divergence(
        name="pearson", title="Pearson chi^2", f_text="(u - 1)^2",
        A_text="2 (mu exp(-c d) - 1)", B_text="mu^2 exp(-2 c d) - 1", h_shape="strictly convex",
        f=lambda u: (u - 1.0) ** 2,
        f_prime=lambda u: 2.0 * (u - 1.0),
        f_conj=lambda t: t * t / 4.0 + t,
        conj_domain=(-2.0, math.inf),
        pos_log=Term("exp", scale=2.0, offset=-2.0),
        neg_log=Term("exp", slope=2.0, offset=-1.0),
        activation=Term("identity"),
        conj_activation=Term("relu_sq", slope=0.5, shift=1.0, offset=-1.0),  # (v/2 + 1)_+^2 - 1
    )


def _sh() -> Divergence:
    return Divergence(
        name="sh", title="squared Hellinger", f_text="(sqrt(u) - 1)^2",
        A_text="1 - mu^(-1/2) exp(c d / 2)", B_text="mu^(1/2) exp(-c d / 2) - 1",
        h_shape="strictly convex",
        f=lambda u: (torch.sqrt(u) - 1.0) ** 2,
        f_prime=lambda u: 1.0 - torch.rsqrt(u),
        f_conj=lambda t: t / (1.0 - t),
        conj_domain=(-math.inf, 1.0),
        pos_log=Term("exp_lin", slope=-0.5, scale=-1.0, offset=1.0),
        neg_log=Term("exp", slope=0.5, offset=-1.0),
        activation=Term("exp_lin", slope=-1.0, scale=-1.0, offset=1.0),
        conj_activation=Term("exp_lin", offset=-1.0),
    )


def _tsallis(beta: float = DEFAULT_BETA) -> Divergence:
    b = validation.at_least("beta", beta, *BETA_RANGE)
    k = b / (b - 1.0)
    log_k = math.log(k)
    return Divergence(
        name="tsallis", title=f"Tsallis (beta={b:g})", f_text="(u^b - 1)/(b - 1)",
        A_text="b/(b-1) mu^(b-1) exp(-(b-1) c d)", B_text="mu^b exp(-b c d) + 1/(b-1)",
        h_shape="strictly convex",
        f=lambda u: (u**b - 1.0) / (b - 1.0),
        f_prime=lambda u: k * u ** (b - 1.0),
        f_conj=lambda t: (t / k) ** k + 1.0 / (b - 1.0),
        conj_domain=(0.0, math.inf),
        pos_log=Term("exp", slope=b - 1.0, scale=k),
        neg_log=Term("exp", slope=b, offset=1.0 / (b - 1.0)),
        activation=Term("exp_lin"),
        conj_activation=Term("exp_lin", slope=k, shift=-k * log_k, offset=1.0 / (b - 1.0)),  # (e^v/k)^k + 1/(b-1)
    )


def _vlc() -> Divergence:
    pos = Term("sigmoid_sq", slope=-1.0, scale=-4.0, offset=1.0)  # 1 - 4/(1+G)^2
    neg = Term("sigmoid_sq", scale=4.0, offset=-1.0)  # 3 - (8G + 4)/(1+G)^2 = 4 G^2/(1+G)^2 - 1
    return Divergence(
        name="vlc", title="Vincze-Le Cam", f_text="(u - 1)^2 / (u + 1)",
        A_text="1 - 4/(1+G)^2", B_text="3 - (8G + 4)/(1+G)^2", h_shape="strictly convex",
        f=lambda u: (u - 1.0) ** 2 / (u + 1.0),
        f_prime=lambda u: 1.0 - 4.0 / (u + 1.0) ** 2,
        f_conj=lambda t: 4.0 - t - 4.0 * torch.sqrt(1.0 - t),
        conj_domain=(-3.0, 1.0),
        pos_log=pos,
        neg_log=neg,
        activation=pos,
        conj_activation=neg,
    )


def _rkl() -> Divergence:
    return Divergence(
        name="rkl", title="reverse KL", f_text="-log u",
        A_text="-exp(c d)/mu", B_text="log mu - c d - 1", h_shape="linear",
        f=lambda u: -torch.log(u),
        f_prime=lambda u: -1.0 / u,
        f_conj=lambda t: -1.0 - torch.log(-t),
        conj_domain=(-math.inf, 0.0),
        pos_log=Term("exp_lin", slope=-1.0, scale=-1.0),
        neg_log=Term("identity", offset=-1.0),
        activation=Term("exp_lin", slope=-1.0, scale=-1.0),
        conj_activation=Term("identity", offset=-1.0),
    )


def _neyman() -> Divergence:
    return Divergence(
        name="neyman", title="Neyman chi^2", f_text="(1 - u)^2 / u",
        A_text="1 - exp(2 c d)/mu^2", B_text="2 - 2 exp(c d)/mu", h_shape="concave",
        f=lambda u: (1.0 - u) ** 2 / u,
        f_prime=lambda u: 1.0 - u ** (-2.0),
        f_conj=lambda t: 2.0 - 2.0 * torch.sqrt(1.0 - t),
        conj_domain=(-math.inf, 1.0),
        pos_log=Term("exp_lin", slope=-2.0, scale=-1.0, offset=1.0),
        neg_log=Term("exp_lin", slope=-1.0, scale=-2.0, offset=2.0),
        activation=Term("exp_lin", slope=-1.0, scale=-1.0, offset=1.0),
        conj_activation=Term("exp_lin", slope=-0.5, scale=-2.0, offset=2.0),
    )


_REGISTRY: dict[str, Callable[..., Divergence]] = {
    "kl": _kl,
    "js": _js,
    "pearson": _pearson,
    "sh": _sh,
    "tsallis": _tsallis,
    "vlc": _vlc,
    "rkl": _rkl,
    "neyman": _neyman,
}
_BUILT = {name: build() for name, build in _REGISTRY.items()}  # immutable: built once, with default parameters


def names() -> tuple[str, ...]:
    """Names of every divergence, in the paper's order (the failing RKL and Neyman last)."""
    return tuple(_REGISTRY)


def get(name: str | Divergence, **params: float) -> Divergence:
    """The divergence called ``name``; ``get("tsallis", beta=3.0)`` sets the Tsallis order (in
    :data:`BETA_RANGE`). A ``Divergence`` is returned as it is, and takes no parameters."""
    if isinstance(name, Divergence):
        if params:
            raise ValueError(f"divergence {name.title!r} is already built and takes no parameters, "
                             f"got {sorted(params)[0]!r}")
        return name
    validation.choice("divergence", name, names())
    if params and name != "tsallis":
        raise ValueError(f"divergence {name!r} takes no parameters, got {sorted(params)[0]!r}")
    validation.keywords("divergence 'tsallis'", params, ["beta"])
    return _REGISTRY[name](**params) if params else _BUILT[name]


def table() -> str:
    """The objectives table (name, f, A(d), B(d), uniformity guaranteed), built from the registry."""
    rows = [("name", "f(u)", "A(d) = f'(G)", "B(d) = f*(f'(G))", "h on [0,4]", "uniformity")]
    for n in names():
        div = get(n)
        rows.append((n, div.f_text, div.A_text, div.B_text, div.h_shape,
                     "yes" if div.uniformity_guaranteed else "no"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main() -> None:
    """Print the objectives table: ``python -m fmicl_core.divergences``."""
    print("f-MICL objectives: G = mu exp(-c d), d = ||x - y||^2 in [0, 4], c = 1/(2 sigma^2)")
    print("loss = -mean_pos A(d+) + alpha * mean_neg B(d-)   (f-MICL Table 7: c = 1, mu = 1, alpha = 40)\n")
    print(table())


if __name__ == "__main__":
    main()
