"""skyfence.coverage."""
