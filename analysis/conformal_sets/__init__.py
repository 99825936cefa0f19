"""Contrastive conformal sets: sets in an embedding space that contain an anchor's positive with a
guaranteed probability and exclude its negatives.

Alkhatib & Tay 2026, "Contrastive Conformal Sets", arXiv:2603.26261; the sets are minimum-volume
covering sets (MVCS: Braun, Aolaritei, Jordan & Bach 2025, arXiv:2503.19068) calibrated by split
conformal prediction. The question: does a set shape learnt on positives only, by minimum volume,
keep the distribution-free coverage of positives and exclude more negatives than the
distance-based (Euclidean ball) baseline, and what breaks the coverage?

- :mod:`~analysis.conformal_sets.sets`: the set shapes, their volumes and the split-conformal
  calibration;
- :mod:`~analysis.conformal_sets.experiments`: sources of exchangeable pairs (synthetic, digits,
  trained features) and the coverage, exclusion and volume over random splits;
- :mod:`~analysis.conformal_sets.plots`: their figure.

``python -m analysis.conformal`` runs the experiment.
"""
