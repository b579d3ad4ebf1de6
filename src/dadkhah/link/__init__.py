"""Linkage: which records describe the same person.

The defaults live here, apart from the engine (Splink, DuckDB, Arrow), so that code which only
needs them (the command line's options) does not load the engine.
"""

DEFAULT_THRESHOLD = 0.5  # even odds: with a calibrated model, the choice that errs least per pair
DEFAULT_REVIEW_BAND = (0.2, 0.9)
