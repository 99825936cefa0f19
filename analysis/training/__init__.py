"""Trainer runs as the objects of study: objectives and alpha compared (f-MICL Table 2 and its alpha
ablation; Lu et al. 2023, arXiv:2402.10150), and training curves."""
