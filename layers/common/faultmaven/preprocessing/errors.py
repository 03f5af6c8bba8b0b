"""Errors a pipeline step raises on purpose. Their class names become Step Functions error
names: the state machine retries `TransientError` and sends everything to MarkFailed."""

from __future__ import annotations


class TransientError(Exception):
    """Worth retrying: a store was briefly unreachable."""


class InvalidArtifactError(Exception):
    """The upload cannot be processed; the message is shown to the user as the reason."""
