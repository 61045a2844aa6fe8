"""skyfence.governance."""
