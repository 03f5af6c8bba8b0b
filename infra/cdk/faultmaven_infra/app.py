"""Assembles the deployment: the stacks in dependency order, cdk-nag's AwsSolutions
checks on all of them, and the findings we accept with the reason for each."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from faultmaven_infra.acknowledgments import acknowledge_findings
from faultmaven_infra.config import REPO_ROOT, DeployConfig
from faultmaven_infra.stacks.api import ApiStack
from faultmaven_infra.stacks.data import DataStack
from faultmaven_infra.stacks.network import NetworkStack
from faultmaven_infra.stacks.pipelines import PipelinesStack
from faultmaven_infra.stacks.schedules import SchedulesStack

# CDK behaviours we rely on (new projects get them from `cdk init`; we set them here so
# tests, `make synth` and a deploy all build the same templates).
FEATURE_FLAGS: dict[str, Any] = {
    # Server access logs delivered under a bucket policy, not the legacy ACL.
    "@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy": True,
    "@aws-cdk/aws-iam:minimizePolicies": True,
    "@aws-cdk/aws-lambda:recognizeLayerVersion": True,
    "@aws-cdk/aws-lambda:recognizeVersionProps": True,
    "@aws-cdk/core:enablePartitionLiterals": True,
    "@aws-cdk/aws-ec2:restrictDefaultSecurityGroup": True,
    "@aws-cdk/aws-rds:databaseProxyUniqueResourceName": True,
    "@aws-cdk/aws-apigateway:disableCloudWatchRole": True,
    # Cross-stack references as CloudFormation exports, which stop a producer stack from
    # deleting what a consumer still uses (nothing exported changes between deploys).
    "@aws-cdk/core:defaultCrossStackReferences": "strong",
    # CloudFormation's own validation findings fail the synth instead of warning.
    "@aws-cdk/core:validateAgainstDefaultRules": True,
}


@dataclass(frozen=True)
class Deployment:
    app: cdk.App
    config: DeployConfig
    network: NetworkStack
    data: DataStack
    pipelines: PipelinesStack
    api: ApiStack
    schedules: SchedulesStack

    @property
    def stacks(self) -> list[cdk.Stack]:
        return [self.network, self.data, self.pipelines, self.api, self.schedules]


def build_app(
    context: dict[str, Any] | None = None, outdir: str | None = None, *, nag: bool = True
) -> Deployment:
    app = cdk.App(context={**FEATURE_FLAGS, **_cached_lookups(), **(context or {})}, outdir=outdir)
    config = DeployConfig.from_context(app.node.try_get_context)
    prefix = config.stack_prefix
    common: dict[str, Any] = {"env": config.env, "tags": {"application": "faultmaven"}}
    network = NetworkStack(app, f"{prefix}-Network", config=config, **common)
    data = DataStack(app, f"{prefix}-Data", config=config, network=network.network, **common)
    pipelines = PipelinesStack(app, f"{prefix}-Pipelines", runtime=data.runtime, **common)
    api = ApiStack(
        app,
        f"{prefix}-Api",
        runtime=data.runtime,
        preprocessing=pipelines.state_machine,
        **common,
    )
    schedules = SchedulesStack(app, f"{prefix}-Schedules", runtime=data.runtime, **common)
    deployment = Deployment(app, config, network, data, pipelines, api, schedules)
    if nag:
        cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
        acknowledge_findings(deployment)
    return deployment


def _cached_lookups() -> dict[str, Any]:
    """`cdk.context.json`: the CLI passes it itself; tests and plain `python app.py` read
    it here, so an offline synth sees the same availability zones."""
    path = REPO_ROOT / "cdk.context.json"
    loaded: dict[str, Any] = json.loads(path.read_text()) if path.is_file() else {}
    return loaded
