"""The estimation error of the mini-batch f-MI estimate and the batch size (Lu et al. 2023,
"f-MICL: Understanding and Generalizing InfoNCE-based Contrastive Learning", TMLR, arXiv:2402.10150).

Theorem 4 of f-MICL bounds ``|i_f - i_hat_f|`` for a batch of N pairs by Rademacher terms plus a
concentration term of order ``N^{-1/2}``; Figure 4 (right) shows f-MICL above InfoNCE at every batch
size.

- :mod:`~analysis.estimation.error`: the estimate, its population value under the vMF coupling
  (where the f-MI is known) and the error against N next to Theorem 4's term;
- :mod:`~analysis.estimation.batch_size`: trainer runs over batch sizes (Figure 4 right);
- :mod:`~analysis.estimation.plots`: the figures.
"""
