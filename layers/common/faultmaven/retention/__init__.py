"""Retention: the scheduled jobs that forget what the policy says may be forgotten."""
