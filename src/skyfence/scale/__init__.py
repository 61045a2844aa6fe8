"""skyfence.scale."""
