"""Uniformity and collapse of f-MICL features (Lu et al. 2023, "f-MICL: Understanding and
Generalizing InfoNCE-based Contrastive Learning", TMLR, arXiv:2402.10150).

Theorem 3 of f-MICL: if ``h = f* o f' o G`` is strictly convex on [0, 4] and ``2 <= N <= d + 1``,
every minimiser of the negative term over N points of the sphere ``S^{d-1}`` is a regular simplex
centred at the origin (Figure 5). Figure 4 shows the pair distances of trained features: the
divergences of Table 1 spread the negative pairs out, RKL collapses.

- :mod:`~analysis.simplex.diagnostics`: how far a batch of features is from that simplex, its
  uniformity and its collapse statistic, and the pair distances of Figure 4;
- :mod:`~analysis.simplex.negative_term`: the negative term and its numerical minimisers (Theorem 3);
- :mod:`~analysis.simplex.collapse`: trainer runs, one per objective, scored for collapse (Figure 4);
- :mod:`~analysis.simplex.plots`: the figures (Figures 4 and 5).
"""
