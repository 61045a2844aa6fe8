"""Who is watching: imaging-constellation access and revisit over targets and cells.

* :mod:`skyfence.imaging.sensors` — optical (off-nadir, Sun), SAR (look angles, side) and
  elevation sensors as one signed margin;
* :mod:`skyfence.imaging.sun` — the Sun's direction and elevation (analytic, no ephemeris file);
* :mod:`skyfence.imaging.access` — access intervals, screened with one KD-tree of the targets
  (:class:`skyfence.links.TargetIndex`) and refined to a millisecond between grid steps without SGP4;
* :mod:`skyfence.imaging.screen` / :mod:`skyfence.imaging.refine` — the sensor's reach, sampling
  strides and screening angles; the vectorized root, maximum and parabola searches;
* :mod:`skyfence.imaging.observed` — whether any observer can image each point at each grid step;
* :mod:`skyfence.imaging.stats` — revisit statistics per target (TAT-C's definitions);
* :mod:`skyfence.imaging.scenario` / :mod:`skyfence.imaging.run` — revisit scenarios and
  :func:`skyfence.imaging` (DataFrames and output files).
"""
