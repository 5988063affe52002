"""Many accounts at once: batch audits, ecosystem summaries, gates, history, diffs, badges."""

SUMMARY_KIND = "decaudit-batch-summary"
CENSUS_KIND = "decaudit-census-summary"
SUMMARY_KINDS = (SUMMARY_KIND, CENSUS_KIND)
"""The ``kind`` of every summary file decaudit writes (history and diff accept both)."""
