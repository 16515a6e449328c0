"""`python -m cocoad` runs the cocoad CLI."""

from cocoad.cli import main

if __name__ == "__main__":
    main()
