"""Who is watching: imaging-constellation access and revisit over targets and cells.

* :mod:`skyfence.revisit.sensors` — optical (off-nadir, Sun), SAR (look angles, side) and
  elevation sensors as one signed margin;
* :mod:`skyfence.revisit.sun` — the Sun's direction and elevation (analytic, no ephemeris file);
* :mod:`skyfence.revisit.access` — access intervals, screened with one KD-tree of the targets
  (:class:`skyfence.links.TargetIndex`) and refined to a millisecond between grid steps without SGP4;
* :mod:`skyfence.revisit.screen` / :mod:`skyfence.revisit.refine` — the sensor's reach, sampling
  strides and screening angles; the vectorized root, maximum and parabola searches;
* :mod:`skyfence.revisit.observed` — whether any observer can image each point at each grid step;
* :mod:`skyfence.revisit.stats` — revisit statistics per target (TAT-C's definitions);
* :mod:`skyfence.revisit.scenario` / :mod:`skyfence.revisit.run` — revisit scenarios and
  :func:`skyfence.revisit` (DataFrames and output files).
"""
