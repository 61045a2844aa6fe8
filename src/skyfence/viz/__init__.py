"""skyfence.viz."""
