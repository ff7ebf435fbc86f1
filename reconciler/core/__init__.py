"""The functional core: pure functions from (files at a revision, observed state, now) to values.

Nothing here performs I/O, touches the clock or the environment, or runs an event loop; an
import-linter contract (pyproject.toml) keeps it so. The shell reads files and routers and hands
their contents in; the core hands back fleets, desired states, diffs, plans and problems.
"""
