"""Who pays: sponsors, funding agreements, which terminals they fund at each step, and what it costs.

* :mod:`~skyfence.funding.agreements`: the :class:`Agreement` record, reading and validating them;
* :mod:`~skyfence.funding.resolve`: the funded set per terminal and step (vectorized, with budget
  caps and grace periods);
* :mod:`~skyfence.funding.report`: cost per sponsor per month, budget burn, unfunded terminals.
"""
