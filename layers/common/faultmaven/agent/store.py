"""Persistence of the agent's per-case memory."""
