"""The entitlements: the commercial side of a fleet, judged against dates (licences, rentals, telephony,
the hosted platform, support plans and their service-level clocks).

Where it sits: beside the GitOps pipeline of the core, never inside it: `judging` collects what
the entitlement files of a revision say is wrong at a moment, for the verdict on a revision
(`app.verdicts`) and the commands of `app.entitlements`.
"""
