"""`python -m adbench` runs the adbench CLI."""

from adbench.cli import main

if __name__ == "__main__":
    main()
