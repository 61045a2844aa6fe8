"""skyfence: a digital twin of a Starlink-class satellite-internet service.

Data flow, one subpackage per stage::

    orbits (elements -> positions) -> ground / links -> coverage / network
      -> policy (regions, Cedar) -> service -> outputs;  governance (registry, proposals, ledger)
"""

__version__ = "0.1.0"
