"""Presenting: problems, desired states, revision diffs and plans as text, markdown and JSON data.

Where it sits: the last step before output. The CLI prints what these pure functions return;
the daemon's API (later) serves the JSON data. Every value passes through `secrets.redact_change`
on its way out, so no output path shows a secret; `redaction` also hides, in snapshots and plans,
router values equal to a secret the shell unsealed (it hands over the `Redactor`).
"""
