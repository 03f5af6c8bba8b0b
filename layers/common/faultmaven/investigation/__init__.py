"""The 7-phase investigation (issue 14). So far: its rules as pure functions
(`phases.py`); the durable state, the endpoints and the state machine come next."""
