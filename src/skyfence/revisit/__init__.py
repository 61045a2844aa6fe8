"""Who is watching: imaging-constellation access and revisit over targets and cells.

* :mod:`skyfence.revisit.sensors` — optical (off-nadir, Sun), SAR (look angles, side) and
  elevation sensors as one signed margin;
* :mod:`skyfence.revisit.sun` — the Sun's direction and elevation (analytic, no ephemeris file);
* :mod:`skyfence.revisit.access` — access intervals, screened with :func:`skyfence.links.visible_pairs`
  and refined to a millisecond;
* :mod:`skyfence.revisit.stats` — revisit statistics per target (TAT-C's definitions);
* :mod:`skyfence.revisit.scenario` / :mod:`skyfence.revisit.run` — revisit scenarios and
  :func:`skyfence.revisit` (DataFrames and output files).
"""
