"""analysis: modules that probe contrastive features and the theory of f-MICL and InfoNCE."""
