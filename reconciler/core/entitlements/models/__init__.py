"""The models of the entitlement files (licences, rentals, hosted telephony and platform, support plans).

Where it sits: `core.models` registers them as file kinds beside the fleet's own; the rule modules
of `core.entitlements` judge them.
"""
