"""skyfence.orbits."""
