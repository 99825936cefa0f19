"""Interactive explorers of the papers' results, for JupyterLab: each is a function that returns
ipywidgets controls around a figure redrawn when a control moves, or, where no front end shows
widgets (a script, the tests, a notebook run headless, the rendered book), the figure at its
default values (:mod:`~analysis.explorers.frontend` makes the switch). The numbers come from the
package's analyses.

- :func:`~analysis.explorers.objectives.explore_objectives`: divergence, sigma, alpha, mu and the
  similarity -> A(d), h(d) = B(d), h'' and the pair weight (Lu et al. 2023, f-MICL,
  arXiv:2402.10150, Table 1, Figure 3, Theorem 3; Tian 2022, arXiv:2201.12680, Theorem 1);
- :func:`~analysis.explorers.simplex.explore_simplex`: N, d and the divergence -> the minimiser of the
  negative term on the sphere against the value of f-MICL Theorem 3;
- :func:`~analysis.explorers.gaussian.explore_gaussian`: kappa, d, n and the prior -> the slope the
  flow recovers on the vMF coupling against the truth (f-MICL Figure 1);
- :func:`~analysis.explorers.mixture.explore_gmm`: the coupling strength, the mixture weights and the
  covariance anisotropy -> the angles of InfoNCE, PCA and LDA to the Fisher subspace (Bansal, Kavis &
  Sanghavi 2024, arXiv:2411.03517).
"""
