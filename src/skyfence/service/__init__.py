"""Service analysis: scenario files, coverage AND policy per cell/terminal/time, impact of a policy change."""
