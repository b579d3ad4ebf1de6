"""Linkage: which records describe the same person.

The defaults live here, apart from the engine (Splink, DuckDB, Arrow), so that code which only
needs them (the command line's options) does not load the engine.
"""

DEFAULT_THRESHOLD = 0.5  # even odds: with a calibrated model, the choice that errs least per pair
# Pairs scored in this band go to the review queue. Measured on the generator's realistic 56,074-record
# case: 1,475 pairs, and deciding them all as the truth says lifts pairwise F1 from 0.981 to 0.986
# (the band 0.2-0.9 would queue 4,917 pairs for 0.991). See docs/methods.md, "Review".
DEFAULT_REVIEW_BAND = (0.4, 0.7)
# The pairs an estimate's linkage draws treat as uncertain (linked with their probability), whatever
# narrower band a run's review queue uses: a pair the team need not look at is still uncertain.
UNCERTAIN_BAND = (0.2, 0.9)
