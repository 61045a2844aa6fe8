"""skyfence.api."""
