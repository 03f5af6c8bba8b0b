"""One FaultMaven Lambda function: arm64, Python 3.12, JSON logs into its own log group
with a retention, X-Ray, its own role (nothing granted but logs, VPC interfaces and what
the stack grants it), in the VPC beside the data stores. Code = only its handler dir.

With SnapStart the published version is snapshotted after init (imports, app, pools);
the `live` alias points at it and is what callers integrate with."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import Annotations, Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from faultmaven_infra.config import FUNCTIONS_DIR
from faultmaven_infra.constructs.log_groups import log_group
from faultmaven_infra.constructs.network import ISOLATED, Network

ASSET_EXCLUDES = ["__pycache__", "*.pyc", "*.pyo"]


class ServiceFunction(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        source: str,
        description: str,
        layers: Sequence[lambda_.ILayerVersion],
        network: Network,
        environment: Mapping[str, str],
        log_retention_days: int,
        handler: str = "handler.handler",
        timeout: Duration | None = None,
        memory_size: int = 1024,
        snap_start: bool = False,
        on_failure: sqs.IQueue | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.log_group = log_group(self, "Logs", days=log_retention_days)
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"FaultMaven {description}",
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[self.log_group.log_group_arn],
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                # Lambda manages the function's network interfaces in the VPC; EC2 offers
                # no resource-level permissions for these actions.
                actions=[
                    "ec2:CreateNetworkInterface",
                    "ec2:DescribeNetworkInterfaces",
                    "ec2:DescribeSubnets",
                    "ec2:DeleteNetworkInterface",
                    "ec2:AssignPrivateIpAddresses",
                    "ec2:UnassignPrivateIpAddresses",
                ],
                resources=["*"],
            )
        )
        service = f"faultmaven-{source.replace('_', '-')}"
        self.function = lambda_.Function(
            self,
            "Function",
            description=f"FaultMaven {description}",
            runtime=lambda_.Runtime.PYTHON_3_12,
            architecture=lambda_.Architecture.ARM_64,
            code=lambda_.Code.from_asset(str(FUNCTIONS_DIR / source), exclude=ASSET_EXCLUDES),
            handler=handler,
            layers=list(layers),
            role=self.role,
            vpc=network.vpc,
            vpc_subnets=ISOLATED,
            security_groups=[network.functions_security_group],
            timeout=timeout or Duration.seconds(25),
            memory_size=memory_size,
            tracing=lambda_.Tracing.ACTIVE,
            log_group=self.log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            environment={
                "POWERTOOLS_SERVICE_NAME": service,
                "FAULTMAVEN_SERVICE_NAME": service,
                "POWERTOOLS_LOG_LEVEL": environment.get("FAULTMAVEN_LOG_LEVEL", "INFO"),
                "FAULTMAVEN_AWS_REGION": Stack.of(self).region,
                **environment,
            },
            snap_start=lambda_.SnapStartConf.ON_PUBLISHED_VERSIONS if snap_start else None,
            on_failure=destinations.SqsDestination(on_failure) if on_failure else None,
            retry_attempts=2 if on_failure else None,
        )
        self.alias: lambda_.Alias | None = None
        if snap_start:
            self.alias = lambda_.Alias(
                self, "Live", alias_name="live", version=self.function.current_version
            )
            Annotations.of(self.function).acknowledge_warning(
                "@aws-cdk/aws-lambda:snapStartRequirePublish",
                "every deploy publishes a version and points the live alias at it",
            )

    @property
    def invocable(self) -> lambda_.IFunction:
        """What callers should invoke: the SnapStart alias, or the function itself."""
        return self.alias if self.alias is not None else self.function
