"""Staged rollouts, the pure part: which strategy a device follows, its wave, its windows, the gates
between waves, and the timing of a preview.

Where it sits: `models.rollouts` is the file format (`rollouts.yaml`), `rolloutchecks` checks it
against the fleet, and the rollout engine in the outer layers drives these functions with the
devices that change, the revision and `now`. Nothing here reads a clock or does I/O. The package
imports nothing on purpose: the models import `schedules` from it, and the other modules import
the models.

- `schedules`: cron expressions (croniter) as naive wall-clock times
- `assigning`: the strategy and the windows of a device
- `waves`: wave membership (`plan_waves`), balanced canaries
- `windows`: when a device's windows open, in its site's time zone, DST included
- `gates`: a wave's results against its success and failure thresholds
- `timing`: when each wave can start and when the rollout ends, for a preview
- `previews`: the preview value and its JSON form
"""
