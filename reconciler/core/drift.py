"""Drift: a router that had reached its desired state and no longer matches it.

Where it sits: the daemon's cycle (`daemon.reconciling`) plans the fleet and hands the devices
with changes, with the desired-state hash each was last converged to (from the store), to
`classify_drift`: a change to a device whose desired state is still the one it converged to was
made on the router, not in the repository. A purely computational module.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from reconciler.core.plans import DevicePlan


def classify_drift(pending: Sequence[DevicePlan], converged_to: Mapping[str, str | None]) -> dict[str, str]:
    """Device → what differs, for the devices last converged to exactly the desired state they have now.

    A device whose desired state changed since (a new commit), or that never converged, is not drift:
    its change comes from the repository.
    """
    return {plan.device: "; ".join(action.summary for action in plan.actions) or "differs" for plan in pending
            if plan.desired_hash is not None and converged_to.get(plan.device) == plan.desired_hash}
