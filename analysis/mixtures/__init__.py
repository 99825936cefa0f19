"""Does contrastive learning recover the Fisher/LDA subspace of a Gaussian mixture?

The question of Bansal, Kavis & Sanghavi 2024, "Understanding Contrastive Learning via Gaussian
Mixture Models" (arXiv:2411.03517): on (sample, augmentation) pairs from a mixture of non-isotropic
Gaussians with a shared covariance, where the augmentation is a coupled draw biased towards the
sample's component, InfoNCE with a linear encoder finds the Fisher (LDA) subspace that supervised
LDA finds, while PCA does not; the CLIP loss finds the Fisher subspace of the label the two
modalities share; on CIFAR-100 the InfoNCE representations match LDA on clustering metrics. Here
the same question is also asked of every f-MICL objective (Lu et al. 2023, arXiv:2402.10150).

- :mod:`~analysis.mixtures.model`: the mixture, its coupled pairs and its Fisher subspace;
- :mod:`~analysis.mixtures.metrics`: principal angles, k-means NMI/ARI, the LDA and PCA baselines;
- :mod:`~analysis.mixtures.encoder`: linear encoders ``f(x) = A x`` trained on pairs;
- :mod:`~analysis.mixtures.methods`: which method gives which subspace, and the tables;
- :mod:`~analysis.mixtures.clip`: the two-modality (CLIP) extension;
- :mod:`~analysis.mixtures.digits`: the real-data analogue on scikit-learn's digits;
- :mod:`~analysis.mixtures.plots`: the figures.

The command is ``python -m analysis.gmm``; notebook 05 tells the story.
"""
