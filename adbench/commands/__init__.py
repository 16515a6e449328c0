"""The subcommands of `adbench`, one module each; `adbench.cli` groups them."""
