"""``python -m quoth`` runs the command line."""

from quoth.cli import main

main()
