"""The Gaussian-kernel assumption of f-MICL: is the joint density of positive-pair features
proportional to ``exp(-||x - y||^2 / (2 sigma^2))``?

Lu, Zhang, Sun, Guo & Yu 2023, "f-MICL: Understanding and Generalizing InfoNCE-based Contrastive
Learning" (TMLR, arXiv:2402.10150) make this assumption for the f-Gaussian similarity and check it in
Figure 1 (RealNVP log-likelihood of SimCLR features against the squared distance of the pair, with a
Gaussian and a uniform prior) and Figure 7 (the same for InfoNCE and KL f-MICL features): under the
assumption ``log p`` is linear and decreasing in ``||x - y||^2`` with slope ``-1 / (2 sigma^2)``.

- :mod:`~analysis.gaussian.check`: the check (:func:`~analysis.gaussian.check.verify_gaussian`),
  its statistics and :func:`~analysis.gaussian.check.kernel_sigma2` of a trained run;
- :mod:`~analysis.gaussian.flows`: the RealNVP density model (Dinh et al. 2017, arXiv:1605.08803);
- :mod:`~analysis.gaussian.vmf`: the von Mises-Fisher coupling, the known answer (its joint density
  *is* the Gaussian kernel);
- :mod:`~analysis.gaussian.ring`: the ring coupling, the negative control;
- :mod:`~analysis.gaussian.plots`: the figures.

The command is ``python -m analysis.verify_gaussian``; the notebook is
``notebooks/01_gaussian_assumption.py``.
"""
