"""``python -m auditor`` runs the decaudit command line."""

from auditor.cli import main

main()
