"""``python -m dadkhah`` runs the command line."""

from dadkhah.cli import main

main()
