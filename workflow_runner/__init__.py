"""wfrun: run ACTIVATE-style workflow YAML locally, over SSH, or through SLURM/PBS."""

__version__ = "0.1.0"
