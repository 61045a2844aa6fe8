"""skyfence.links."""
