"""The live fixtures (a simulator process, a small fleet with sealed secrets) for the command line's tests of
how `apply` stops."""

from tests.live.conftest import live_fleet, simulator

__all__ = ["live_fleet", "simulator"]
