"""`python -m adbench` runs the adbench CLI."""

from adbench.cli import console_main

if __name__ == "__main__":
    console_main()
