"""Webhooks: signed event notifications to URLs chosen by district and platform admins.

`events` says what happens (a run ended, a provider went stale or recovered) and which webhooks
hear of it; `store` holds the rows; `deliver` makes one signed attempt under the egress policy.
The libs return `Next` messages; the actor that sends them lives in `services/workers/actors.py`.
"""
