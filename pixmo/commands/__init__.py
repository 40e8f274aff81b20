"""Subcommands of the `pixmo` command line, one module each."""
