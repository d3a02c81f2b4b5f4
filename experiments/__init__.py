"""Experiment modules: ``python -m experiments.<name> --help``."""
