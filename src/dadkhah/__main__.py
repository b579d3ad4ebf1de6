"""``python -m dadkhah`` runs the command line."""

from dadkhah.cli import main

if __name__ == "__main__":  # not when a reader's child process imports this module (spawn)
    main()
