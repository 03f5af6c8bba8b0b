"""The telemetry cluster registry and the agent's live query tools."""
