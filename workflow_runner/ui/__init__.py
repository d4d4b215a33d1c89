"""Terminal and machine-readable views of a run."""
