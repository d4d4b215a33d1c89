"""Where a run's state lives: its directory (logs, outputs, events)."""
