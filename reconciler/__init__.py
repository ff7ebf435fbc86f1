"""reconciler: GitOps reconciliation for fleets of industrial routers.

The package is split into a pure functional core (`reconciler.core`: files, observed state and
`now` in, values out) and an imperative shell (`reconciler.shell`: git, the file system, drivers,
the store). `reconciler.cli` maps both onto the command line and exit codes.
"""

__version__ = "0.1.0"
