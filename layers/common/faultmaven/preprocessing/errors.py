"""Errors a pipeline step raises on purpose. Their class names become Step Functions error
names: the state machine retries `TransientError` and sends everything to MarkFailed."""

from __future__ import annotations


class TransientError(Exception):
    """Worth retrying: a store was briefly unreachable."""


class StepFailedError(Exception):
    """Any other failure of a step, with its message redacted: Lambda's error payload is
    kept in the Step Functions execution history."""


class InvalidArtifactError(Exception):
    """The upload cannot be processed; the message is shown to the user as the reason."""
