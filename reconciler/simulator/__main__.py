"""`python -m reconciler.simulator`: the simulator without the project's CLI (same options as `reconciler simulate`)."""

from __future__ import annotations

import argparse
import sys

from reconciler.simulator.command import add_arguments, run


def main() -> int:
    """Parse the options and serve until SIGINT or SIGTERM."""
    parser = argparse.ArgumentParser(prog="python -m reconciler.simulator", description="Simulate icom OS routers.")
    add_arguments(parser)
    return run(parser.parse_args())


if __name__ == "__main__":
    sys.exit(main())
