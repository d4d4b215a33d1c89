"""Subcommands that live outside ``cli.py``; each module offers ``add_parsers(subparsers)``."""
