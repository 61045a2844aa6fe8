"""skyfence.ground."""
