"""Log groups with an explicit retention: nothing FaultMaven writes is kept forever by
accident, and `cdk destroy` removes the groups with the stack."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_logs as logs
from constructs import Construct

# CloudWatch Logs accepts only these retentions, in the order of the CDK enum.
_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827)
_NAMES = [
    "ONE_DAY",
    "THREE_DAYS",
    "FIVE_DAYS",
    "ONE_WEEK",
    "TWO_WEEKS",
    "ONE_MONTH",
    "TWO_MONTHS",
    "THREE_MONTHS",
    "FOUR_MONTHS",
    "FIVE_MONTHS",
    "SIX_MONTHS",
    "ONE_YEAR",
    "THIRTEEN_MONTHS",
    "EIGHTEEN_MONTHS",
    "TWO_YEARS",
    "THREE_YEARS",
    "FIVE_YEARS",
]


def retention(days: int) -> logs.RetentionDays:
    """The shortest accepted retention that keeps logs at least `days` days."""
    for allowed, name in zip(_DAYS, _NAMES, strict=True):
        if allowed >= days:
            return logs.RetentionDays[name]
    return logs.RetentionDays.FIVE_YEARS


def log_group(scope: Construct, construct_id: str, *, days: int) -> logs.LogGroup:
    return logs.LogGroup(
        scope, construct_id, retention=retention(days), removal_policy=RemovalPolicy.DESTROY
    )
