"""The entitlements: the commercial side of a fleet, judged against dates, beside the GitOps pipeline.

Where it sits: in the core, but never inside the pipeline of loading, rendering and planning.
`licences` (router-management licences, D0.23–D0.35), `rentals` (PBX rentals paid in credits, D1),
`platform` (the hosted platform, D2), `telephony` (hosted telephony, D3), `support` (support plans,
D4) and `sla` (business-time clocks for their service levels) hold the rules; `models` the file
kinds they judge; `judging` collects what they find wrong at a moment for the verdict on a
revision (`app.verdicts`). The commands that show them are in `app.entitlements`; the rule numbers
are explained in docs/entitlements.md.
"""
