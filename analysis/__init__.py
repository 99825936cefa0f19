"""Analyses of contrastive features and of the theory of InfoNCE.

One rule for the layout:

- a **subpackage per question** holds its maths (modules of pure functions returning dataclasses
  or arrays, no plotting, no files, no flags) and ``plots.py`` (its figures, nothing else):
  ``gaussian`` (the Gaussian-kernel assumption, f-MICL Figure 1), ``simplex`` (uniformity and
  collapse, f-MICL Theorem 3), ``estimation`` (estimation error and batch size, f-MICL Theorem 4),
  ``mixtures`` (Gaussian mixtures and the Fisher subspace, Bansal et al.), ``coordinate``
  (alpha-CL, Tian), ``conformal_sets`` (Alkhatib & Tay), ``zoo`` (the objectives and their special
  cases) and ``training`` (trainer runs compared);
- a **top-level module is a command** (``python -m analysis.<command>``): its flags and the glue
  from them to the maths and plots, run by :func:`analysis.runner.run`, which does everything
  commands share (output folder, timing, one-line errors, figure and JSON, headline);
- what the commands share: ``runner`` (every command runs through it) and ``trainer_runs`` (the
  trainer flags of the commands that train); ``gallery`` is what the notebooks write, and
  ``reproduce`` runs the notebooks into the gallery.

Analyses read runs through :mod:`fmicl_core.features` and get them from the trainer only through
:func:`fmicl_core.train.ensure_run`.
"""
