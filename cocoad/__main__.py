"""`python -m cocoad` runs the cocoad CLI; a Ctrl-C while it loads ends it with status 130."""

import sys

try:
    from cocoad.cli import main
except KeyboardInterrupt:
    print("cocoad: interrupted", file=sys.stderr)
    sys.exit(130)

if __name__ == "__main__":
    main()
