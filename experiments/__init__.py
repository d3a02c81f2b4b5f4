"""Experiment modules: ``python -m experiments.<name> --help``.

They ship in the wheel beside grokrfm, so an installed copy runs them from any folder.
Paths are relative to that folder: each experiment writes to ``--out`` (by default
``results/<name>``) and ``summary`` reads ``--results`` (by default ``results``).
"""
