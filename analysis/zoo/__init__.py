"""The objectives of f-MICL (Lu et al. 2023, arXiv:2402.10150, Table 1) as curves, and the special
cases of its Figure 3 (InfoNCE, alignment-uniformity, spectral) checked as identities."""
