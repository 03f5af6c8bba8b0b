"""cdk-nag AwsSolutions findings we accept, each on the narrowest construct that raises
it and with the reason a security reviewer would ask for. Anything not listed here fails
the synth (and `tests/infra`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import aws_cdk as cdk
from constructs import IConstruct

from faultmaven_infra.constructs.function import ServiceFunction

if TYPE_CHECKING:
    from faultmaven_infra.app import Deployment

RUNTIME = (
    "python3.12 on purpose: the layers' .pyc files are compiled by CPython 3.12 (a bytecode "
    "format is per minor version) and SnapStart is verified on it; moving to a newer "
    "runtime means rebuilding the layers with that interpreter, a deliberate upgrade."
)
FUNCTION_WILDCARDS = (
    "Resource '*' only for actions that support no resource-level permission: Lambda's "
    "VPC network interfaces (ec2:*NetworkInterface*, DescribeSubnets) and X-Ray "
    "(PutTraceSegments, PutTelemetryRecords). Object access is limited to single actions "
    "on one key prefix (artifacts/, work/, knowledge/ or exports/), whose keys are per "
    "case and evidence id, per knowledge document id or per user and job id, created at "
    "run time."
)
NO_API_AUTHORIZER = (
    "Authentication is enforced by the application on every route except register, "
    "login, refresh and health: each request's bearer JWT is verified (signature, "
    "expiry, denylist) before any service runs, and authorization is checked per object "
    "in the service layer. HTTP API JWT authorizers need an OIDC issuer publishing JWKS, "
    "which this self-contained product does not run."
)


BEDROCK_PROFILE = (
    "A Bedrock cross-region inference profile routes each call to the same foundation "
    "model in one of several regions chosen by Bedrock, so the grant names the profile "
    "(this account and region) and exactly that one model in any region; no other model "
    "is invokable."
)


def acknowledge_findings(deployment: Deployment) -> None:
    bucket = "arn:<AWS::Partition>:s3:::" + deployment.config.evidence_bucket_name
    model = deployment.config.bedrock_llm_model
    routed = model.split(".", 1)[1] if "." in model else model
    function_wildcards = [
        "Resource::*",
        f"Resource::{bucket}/artifacts/*",
        f"Resource::{bucket}/work/*",
        f"Resource::{bucket}/knowledge/*",
        f"Resource::{bucket}/exports/*",
    ]
    for stack in deployment.stacks:
        for construct in stack.node.find_all():
            if isinstance(construct, ServiceFunction):
                _ack(construct.function, "L1", RUNTIME)
                for wildcard in function_wildcards:
                    _ack(construct.role, "IAM5", FUNCTION_WILDCARDS, applies_to=wildcard)
                for partition in ("aws", "<AWS::Partition>"):
                    _ack(
                        construct.role,
                        "IAM5",
                        BEDROCK_PROFILE,
                        applies_to=(
                            f"Resource::arn:{partition}:bedrock:*::foundation-model/{routed}"
                        ),
                    )

    _ack(deployment.api.http_api, "APIG4", NO_API_AUTHORIZER)
    tasks = deployment.api.tasks.function.node.default_child
    assert isinstance(tasks, cdk.CfnElement)
    for starter in ("api_auth", "api_agent"):  # exports and erasure; long chat turns
        _ack(
            deployment.api.functions[starter].role,
            "IAM5",
            "CDK's grant to invoke the background-tasks function covers its versions "
            "(function ARN + ':*'); it names that one function.",
            applies_to=f"Resource::<{cdk.Stack.of(tasks).get_logical_id(tasks)}.Arn>:*",
        )
    investigation = deployment.pipelines.investigation
    for machine, machine_tasks in (
        (deployment.pipelines.state_machine, deployment.pipelines.steps),
        (investigation.state_machine, investigation.tasks),
    ):
        _ack(
            machine,
            "IAM5",
            "Resource '*' only for X-Ray (PutTraceSegments, GetSampling*) and CloudWatch Logs "
            "log delivery (logs:*LogDelivery*, DescribeLogGroups), which support no "
            "resource-level permissions.",
            applies_to="Resource::*",
        )
        for step in machine_tasks.values():
            function = step.function.node.default_child
            assert isinstance(function, cdk.CfnElement)
            _ack(
                machine,
                "IAM5",
                "Step Functions' grant to invoke a task function covers its versions "
                "(function ARN + ':*'); the functions are exactly the ones the ASL names.",
                applies_to=f"Resource::<{cdk.Stack.of(function).get_logical_id(function)}.Arn>:*",
            )
    data = deployment.data
    _ack(
        data.runtime.jwt_secret,
        "SMG4",
        "HMAC signing key for sessions' JWTs: rotating it signs every user out, so it is "
        "rotated deliberately (put-secret-value during maintenance), not on a timer.",
    )
    _ack(
        data.runtime.anthropic_secret,
        "SMG4",
        "Third-party API key: only Anthropic can issue a new one; the operator rotates it "
        "at the provider and stores it with put-secret-value.",
    )
    for stack in (deployment.pipelines, deployment.schedules, deployment.api):
        for construct in stack.node.find_all():
            if construct.node.id.endswith("Failures"):
                _ack(
                    construct,
                    "SQS3",
                    "This queue is itself the on-failure destination of asynchronous "
                    "invocations; a dead-letter queue for it would have nothing to catch.",
                )
    # Functions CDK itself adds to a stack (log retention for the Aurora log export,
    # S3 bucket notifications, the migration trigger's provider).
    for construct in data.node.find_all():
        if construct.node.id.startswith("LogRetention"):
            _ack(
                construct,
                "IAM5",
                "CDK's LogRetention function sets retention on the Aurora log group, whose "
                "name only exists after the cluster does; logs:PutRetentionPolicy on '*' "
                "is how CDK ships it.",
                applies_to="Resource::*",
            )
    for stack in deployment.stacks:
        _ack(
            stack,
            "IAM4",
            "Only on CDK's own singleton functions (LogRetention, BucketNotificationsHandler): "
            "AWSLambdaBasicExecutionRole grants them nothing but writing their own logs.",
            applies_to="Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
            "AWSLambdaBasicExecutionRole",
        )


def _ack(construct: IConstruct, rule: str, reason: str, *, applies_to: str = "") -> None:
    finding = f"AwsSolutions::AwsSolutions-{rule}" + (f"[{applies_to}]" if applies_to else "")
    cdk.Validations.of(construct).acknowledge(cdk.Acknowledgment(id=finding, reason=reason))
