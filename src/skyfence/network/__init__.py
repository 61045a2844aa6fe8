"""skyfence.network."""
