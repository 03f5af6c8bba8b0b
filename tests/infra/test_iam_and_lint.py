"""Least privilege across every role, and the templates CloudFormation will accept."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from aws_cdk.assertions import Template
from faultmaven_infra.app import Deployment

from tests.infra.helpers import as_list, logical_id, resources, roles_granted

# The only actions granted on Resource "*": AWS offers no resource-level permission for
# them (Lambda's VPC interfaces, X-Ray, CloudWatch Logs vended delivery) — plus CDK's
# own LogRetention function.
UNSCOPED_ACTIONS = {
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
    "logs:PutRetentionPolicy",
    "logs:DeleteRetentionPolicy",
}


def test_wildcard_resources_only_for_actions_that_cannot_be_scoped(
    templates: dict[str, Template],
) -> None:
    for name, template in templates.items():
        for policy_id, policy in resources(template, "AWS::IAM::Policy").items():
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                if "*" in as_list(statement["Resource"]):
                    extra = set(as_list(statement["Action"])) - UNSCOPED_ACTIONS
                    assert not extra, (name, policy_id, extra)


def test_no_action_wildcards_in_our_grants(templates: dict[str, Template]) -> None:
    for name, template in templates.items():
        for policy_id, policy in resources(template, "AWS::IAM::Policy").items():
            if "LogRetention" in policy_id or "BucketNotificationsHandler" in policy_id:
                continue  # CDK's own functions
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                for action in as_list(statement["Action"]):
                    assert "*" not in action, (name, policy_id, action)


def test_object_access_is_limited_to_key_prefixes(templates: dict[str, Template]) -> None:
    for name, template in templates.items():
        for policy_id, policy in resources(template, "AWS::IAM::Policy").items():
            if "BucketNotificationsHandler" in policy_id:
                continue  # CDK's function that writes the bucket's notification config
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                actions = as_list(statement["Action"])
                if any(a.startswith("s3:") and a != "s3:ListBucket" for a in actions):
                    for resource in as_list(statement["Resource"]):
                        text = json.dumps(resource)
                        assert text.endswith(
                            (
                                '/artifacts/*"]]}',
                                '/work/*"]]}',
                                '/knowledge/*"]]}',
                                '/exports/*"]]}',
                            )
                        ), (name, text)
                if "s3:ListBucket" in actions:
                    # Only on the evidence bucket itself (never another bucket's keys).
                    assert json.dumps(statement["Resource"]).endswith('-us-east-1"]]}')


TITAN_V2 = "arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-embed-text-v2:0"


def test_only_the_functions_that_embed_may_invoke_the_embedding_model(
    deployment: Deployment, templates: dict[str, Template]
) -> None:
    """The knowledge API, the agent and the investigation's phase and validation tasks
    (their retrieval embeds the query), the background
    tasks (documents handed over by a deleted account are re-indexed), the Index step
    (case memory), the upload trigger (large knowledge documents) and the seed; each on
    the one model, in the stack's region."""
    expected = {
        "api": {
            logical_id(deployment.api.functions["api_knowledge"].role),
            logical_id(deployment.api.functions["api_agent"].role),
            logical_id(deployment.api.tasks.role),
        },
        "pipelines": {
            logical_id(deployment.pipelines.steps["IndexFunctionArn"].role),
            logical_id(deployment.pipelines.upload_trigger.role),
            # The investigation's agent iterations retrieve as the agent does.
            logical_id(deployment.pipelines.investigation.tasks["PhaseFunctionArn"].role),
            logical_id(deployment.pipelines.investigation.tasks["ValidateFunctionArn"].role),
        },
        "data": {logical_id(deployment.data.kb_seed.role)},
    }
    for name, template in templates.items():
        granted = roles_granted(template, "bedrock:InvokeModel")
        assert set(granted) == expected.get(name, set()), name
        for role, resources_ in granted.items():
            assert resources_ == [TITAN_V2], (name, role)
        for policy in resources(template, "AWS::IAM::Policy").values():
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                bedrock = [a for a in as_list(statement["Action"]) if a.startswith("bedrock:")]
                assert bedrock in ([], ["bedrock:InvokeModel"]), (name, bedrock)


def test_cfn_lint_finds_nothing(synth_dir: Path, templates: dict[str, Template]) -> None:
    """W3005 (redundant DependsOn) and W3010 (AZ names) are how CDK writes templates:
    it adds explicit dependencies and resolves AZs at synth time."""
    assert templates  # the session fixture has synthesized the app into synth_dir
    files = sorted(str(p) for p in synth_dir.glob("*.template.json"))
    cfn_lint = str(Path(sys.executable).with_name("cfn-lint"))
    assert len(files) == 5
    result = subprocess.run(
        [cfn_lint, "--ignore-checks", "W3005", "W3010", "--", *files],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
