"""``uses:`` steps: resolving what they name, and running it (sub-workflows and built-ins)."""
