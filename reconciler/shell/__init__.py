"""The imperative shell: everything that touches the outside world (git, files, routers, the store).

The shell reads inputs, hands them to the pure core (`reconciler.core`) and carries out what the
core decides. Each kind of I/O has one way in: the `git` package for fleet repositories (their
files at a revision, their history, the daemon's clone), `store` for the daemon's state, `drivers`
for routers.
"""
