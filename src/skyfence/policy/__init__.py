"""skyfence.policy."""
