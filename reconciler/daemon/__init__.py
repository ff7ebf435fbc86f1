"""The daemon: `reconciler serve` and `reconciler token`.

Where it sits: between the command line and the application. `service` wires everything and
runs it; `following` works out what to follow (the clone that fetches it is `shell.git.clones`);
`reconciling` is the loop (fetch, validate, observe, plan, apply through a rollout), which
`supervision` restarts if it fails;
`api`, `views` and `openapi` are the HTTP side, served through `listening` (connection cap and
deadlines), with `tokens` for who may do what and `webhooks` for git hosts; `metrics` and `logs` are
what operators watch; `watching` is `--watch` for development; `config` is `reconciler.yaml`.
"""
