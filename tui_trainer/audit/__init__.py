"""The environment audit: probes that say whether this machine can train, and the command that fixes what cannot.

Each probe module has a `collect(...)` that gathers plain facts (a dict, JSON-ready) and a pure `assess(...)`
that turns facts into findings, so every mismatch is tested with fakes and no probe needs a GPU to be tested.
`runner.run_audit` runs the collectors concurrently, each with its own timeout.
"""
