"""Linkage: which records describe the same person.

The defaults live here, apart from the engine (Splink, DuckDB, Arrow), so that code which only
needs them (the command line's options) does not load the engine.
"""

DEFAULT_THRESHOLD = 0.5  # even odds: with a calibrated model, the choice that errs least per pair
# Pairs scored in this band go to the review queue: the pairs the model is least sure of, as far on
# either side of the threshold, where its answers are most often wrong. Measured on the generator's
# realistic 56,074-record case (benchmarks/review_band_bench.py): 1,319 pairs, 42% of them answered
# wrongly by the run, and deciding them all as the truth says lifts pairwise F1 from 0.982 to 0.986
# (0.4-0.7, the default before: 1,698 pairs for 0.987; 0.2-0.9: 5,461 for 0.993). See docs/methods.md.
DEFAULT_REVIEW_BAND = (0.38, 0.62)
# The pairs an estimate's linkage draws treat as uncertain (linked with their probability), whatever
# narrower band a run's review queue uses: a pair the team need not look at is still uncertain. The
# floor was 0.2; at 215,172 records 13% of the pairs from 0.05 to 0.2 were one person (the model is
# if anything too sure they are not), and drawing them moved the estimate towards the truth
# (docs/methods.md, "What the interval still does not include").
UNCERTAIN_BAND = (0.05, 0.9)
