"""The coordinate-wise (alpha-CL) view of contrastive learning, with f-MICL inside it.

Tian 2022, "Understanding Deep Contrastive Learning via Coordinate-wise Optimization", NeurIPS
2022, arXiv:2201.12680. The question: is a contrastive loss a game between a max player (the network,
trained on an energy with the pairwise importance ``alpha`` held fixed) and a min player (``alpha``),
and what does each player do? Its Theorem 1 gives ``alpha`` for a family of losses; here also for
every f-MICL divergence (Lu et al. 2023, arXiv:2402.10150). With ``alpha`` fixed, the max player of
a deep linear network is PCA on the contrastive covariance (rank one, Tian's abstract); a two-layer
ReLU network can keep fixed points of higher rank.

- :mod:`~analysis.coordinate.pair_weights`: the importance weights, closed form and autograd;
- :mod:`~analysis.coordinate.max_player`: the max player with ``alpha`` fixed, the min players and
  the alternating loop;
- :mod:`~analysis.coordinate.experiments`: the checks composed, and the alpha-CL objectives trained
  on digits next to InfoNCE and f-MICL;
- :mod:`~analysis.coordinate.plots`: their figures.

``python -m analysis.coordinate_cl`` runs the checks.
"""
