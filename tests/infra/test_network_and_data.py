"""Network and data stores: private, encrypted, reachable only by the functions."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk.assertions import Match, Template
from constructs import Construct
from faultmaven_infra.app import Deployment
from faultmaven_infra.constructs.network import INTERFACE_ENDPOINTS

from tests.infra.helpers import logical_id, resources, roles_granted


def test_the_vpc_has_no_route_to_the_internet(templates: dict[str, Template]) -> None:
    network = templates["network"]
    for forbidden in ("AWS::EC2::NatGateway", "AWS::EC2::InternetGateway", "AWS::EC2::EIP"):
        network.resource_count_is(forbidden, 0)
    for subnet in resources(network, "AWS::EC2::Subnet").values():
        assert subnet["Properties"]["MapPublicIpOnLaunch"] is False
    network.resource_count_is("AWS::EC2::FlowLog", 1)


def test_every_aws_api_the_functions_call_has_an_endpoint(
    templates: dict[str, Template],
) -> None:
    endpoints = resources(templates["network"], "AWS::EC2::VPCEndpoint")
    names = json.dumps([e["Properties"]["ServiceName"] for e in endpoints.values()])
    for service in ("secretsmanager", "states", "logs", "bedrock-runtime", "sts", "s3"):
        assert f".{service}" in names, service
    interface = [
        e for e in endpoints.values() if e["Properties"].get("VpcEndpointType") == "Interface"
    ]
    assert len(interface) == len(INTERFACE_ENDPOINTS)
    assert all(e["Properties"]["PrivateDnsEnabled"] for e in interface)


def _ingress_sources(template: Template, group_logical_id: str) -> list[Any]:
    """Where a security group admits traffic from, across inline and separate rules."""
    sources = []
    group = resources(template, "AWS::EC2::SecurityGroup")[group_logical_id]
    for rule in group["Properties"].get("SecurityGroupIngress", []):
        sources.append(rule.get("SourceSecurityGroupId") or rule.get("CidrIp"))
    for rule in resources(template, "AWS::EC2::SecurityGroupIngress").values():
        target = rule["Properties"]["GroupId"]
        if target == {"Fn::GetAtt": [group_logical_id, "GroupId"]}:
            sources.append(
                rule["Properties"].get("SourceSecurityGroupId") or rule["Properties"].get("CidrIp")
            )
    return sources


def test_data_stores_admit_only_the_functions(
    deployment: Deployment, templates: dict[str, Template]
) -> None:
    data = templates["data"]
    groups = resources(data, "AWS::EC2::SecurityGroup")
    functions_group = json.dumps(
        deployment.data.resolve(
            deployment.network.network.functions_security_group.security_group_id
        )
    )
    proxy_group = next(k for k in groups if k.startswith("DatabaseProxySecurityGroup"))
    cluster_group = next(k for k in groups if k.startswith("DatabaseClusterSecurityGroup"))
    cache_group = next(k for k in groups if k.startswith("CacheSecurityGroup"))
    vectors_group = next(k for k in groups if k.startswith("VectorsSecurityGroup"))
    for group in (proxy_group, cache_group, vectors_group):
        sources = _ingress_sources(data, group)
        assert [json.dumps(s) for s in sources] == [functions_group], group
    cluster_sources = [json.dumps(s) for s in _ingress_sources(data, cluster_group)]
    assert json.dumps({"Fn::GetAtt": [proxy_group, "GroupId"]}) in cluster_sources
    assert functions_group not in cluster_sources  # functions go through the proxy
    assert not any("0.0.0.0/0" in s for s in cluster_sources)


def test_aurora_is_encrypted_protected_and_current(templates: dict[str, Template]) -> None:
    data = templates["data"]
    data.has_resource(
        "AWS::RDS::DBCluster",
        {
            "DeletionPolicy": "Snapshot",
            "UpdateReplacePolicy": "Snapshot",
            "Properties": Match.object_like(
                {
                    "Engine": "aurora-postgresql",
                    "EngineVersion": Match.string_like_regexp(r"^16\.\d+$"),
                    "StorageEncrypted": True,
                    "DeletionProtection": True,
                    "EnableIAMDatabaseAuthentication": True,
                    "EnableCloudwatchLogsExports": ["postgresql"],
                    "ServerlessV2ScalingConfiguration": {"MinCapacity": 0.5, "MaxCapacity": 8},
                    "DatabaseName": "faultmaven",
                }
            ),
        },
    )
    data.has_resource_properties("AWS::RDS::DBInstance", {"DBInstanceClass": "db.serverless"})
    data.has_resource_properties(
        "AWS::RDS::DBProxy",
        {
            "RequireTLS": True,
            "EngineFamily": "POSTGRESQL",
            "Auth": [Match.object_like({"IAMAuth": "REQUIRED", "AuthScheme": "SECRETS"})],
        },
    )
    data.resource_count_is("AWS::SecretsManager::RotationSchedule", 1)


def test_the_cache_is_serverless_valkey_in_the_private_subnets(
    templates: dict[str, Template],
) -> None:
    templates["data"].has_resource_properties(
        "AWS::ElastiCache::ServerlessCache",
        {"Engine": "valkey", "SubnetIds": Match.any_value(), "SecurityGroupIds": Match.any_value()},
    )


def test_the_vector_collection_is_private_and_encrypted(
    deployment: Deployment, templates: dict[str, Template]
) -> None:
    data = templates["data"]
    name = deployment.data.runtime.vectors.name  # type: ignore[union-attr]
    data.has_resource_properties(
        "AWS::OpenSearchServerless::Collection", {"Name": name, "Type": "VECTORSEARCH"}
    )
    policies = {
        p["Properties"]["Type"]: p["Properties"]["Policy"]
        for p in resources(data, "AWS::OpenSearchServerless::SecurityPolicy").values()
    }
    assert json.loads(policies["encryption"])["AWSOwnedKey"] is True
    network_policy = json.dumps(policies["network"])
    assert '\\"AllowFromPublic\\":false' in network_policy
    assert "SourceVPCEs" in network_policy
    collection = next(iter(resources(data, "AWS::OpenSearchServerless::Collection").values()))
    assert len(collection["DependsOn"]) == 2  # created after both policies exist


def test_only_the_roles_that_use_vectors_get_data_access(
    deployment: Deployment, templates: dict[str, Template]
) -> None:
    """Per stack, one data access policy for the roles that write vectors (the agent's
    and the investigation tasks' read-only ones are apart: tests/infra/test_agent.py,
    tests/infra/test_investigation_machine.py), naming exactly them, each of which
    may also call the collection's API."""
    api = deployment.api.functions
    granted = {
        "data": [[deployment.data.kb_seed.role]],
        "pipelines": [
            [
                deployment.pipelines.steps["IndexFunctionArn"].role,
                deployment.pipelines.upload_trigger.role,
            ],
            # The investigation's agent iterations search, read only.
            [
                deployment.pipelines.investigation.tasks["PhaseFunctionArn"].role,
                deployment.pipelines.investigation.tasks["ValidateFunctionArn"].role,
            ],
        ],
        "api": [
            [
                api["api_knowledge"].role,
                api["api_cases"].role,
                api["api_evidence"].role,
                deployment.api.tasks.role,
            ],
            [api["api_agent"].role],
        ],
        "schedules": [[deployment.schedules.retention.role]],
    }
    for stack_name, groups in granted.items():
        template = templates[stack_name]
        policies = resources(template, "AWS::OpenSearchServerless::AccessPolicy")
        assert len(policies) == len(groups), stack_name
        texts = [json.dumps(policy["Properties"]["Policy"]) for policy in policies.values()]
        for roles in groups:
            [text] = [t for t in texts if logical_id(roles[0]) in t]
            for role in roles:
                assert logical_id(role) in text
            assert text.count("Role") == len(roles)
        callers = roles_granted(template, "aoss:APIAccessAll")
        expected = {logical_id(role) for roles in groups for role in roles}
        assert set(callers) == expected, stack_name
        for resources_ in callers.values():
            [collection] = resources_
            assert "VectorsCollection" in json.dumps(collection)  # that one collection only
    templates["network"].resource_count_is("AWS::OpenSearchServerless::AccessPolicy", 0)


def test_the_evidence_bucket_is_private_tls_only_and_expires_artifacts(
    deployment: Deployment, templates: dict[str, Template]
) -> None:
    data = templates["data"]
    data.has_resource(
        "AWS::S3::Bucket",
        {
            "DeletionPolicy": "Retain",
            "Properties": Match.object_like(
                {
                    "BucketName": deployment.config.evidence_bucket_name,
                    "BucketEncryption": {
                        "ServerSideEncryptionConfiguration": [
                            {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
                        ]
                    },
                    "PublicAccessBlockConfiguration": {
                        "BlockPublicAcls": True,
                        "BlockPublicPolicy": True,
                        "IgnorePublicAcls": True,
                        "RestrictPublicBuckets": True,
                    },
                    "CorsConfiguration": {
                        "CorsRules": [
                            Match.object_like(
                                {
                                    "AllowedMethods": ["POST", "GET", "HEAD"],
                                    "AllowedOrigins": [
                                        "https://app.example.com",
                                        "chrome-extension://abcdefghijklmnop",
                                    ],
                                }
                            )
                        ]
                    },
                    "LifecycleConfiguration": {
                        "Rules": Match.array_with(
                            [
                                Match.object_like(
                                    {
                                        "Prefix": "artifacts/",
                                        "ExpirationInDays": 90,
                                        "Status": "Enabled",
                                    }
                                ),
                                # Large knowledge uploads the trigger never ingested.
                                Match.object_like(
                                    {
                                        "Prefix": "knowledge/",
                                        "ExpirationInDays": 7,
                                        "Status": "Enabled",
                                    }
                                ),
                            ]
                        )
                    },
                    "LoggingConfiguration": Match.any_value(),
                }
            ),
        },
    )
    for bucket in resources(data, "AWS::S3::Bucket").values():
        assert bucket["Properties"]["PublicAccessBlockConfiguration"]["BlockPublicPolicy"]
    tls_only = [
        statement
        for policy in resources(data, "AWS::S3::BucketPolicy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if statement["Effect"] == "Deny"
        and statement.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
    ]
    assert len(tls_only) == 2  # the evidence bucket and its access-log bucket


def _trigger(template: Template, trigger: Construct) -> dict[str, Any]:
    found: dict[str, Any] = resources(template, "Custom::Trigger")[logical_id(trigger)]
    return found


def test_migrations_run_at_deploy_after_the_database_exists(
    deployment: Deployment, templates: dict[str, Template]
) -> None:
    data = templates["data"]
    assert len(resources(data, "Custom::Trigger")) == 2  # migrations, then the global KB
    trigger = _trigger(data, deployment.data.migration)
    # The trigger invokes the migrate function's current version: a new layer (so new
    # migrations) is a new version, and that re-runs it.
    migrate = logical_id(deployment.data.migrate.function)[:-8]  # without the hash
    assert f'"Ref": "{migrate}CurrentVersion' in json.dumps(trigger["Properties"]["HandlerArn"])
    depends = trigger.get("DependsOn", [])
    cluster = logical_id(deployment.data.runtime.database.cluster)
    assert any(d.startswith(cluster) for d in depends)
    assert any("Proxy" in d for d in depends)
    # ...and after the rule that lets the functions (this one included) reach the proxy.
    proxy_ingress = [
        rule_id
        for rule_id, rule in resources(data, "AWS::EC2::SecurityGroupIngress").items()
        if "DatabaseProxySecurityGroup" in json.dumps(rule["Properties"]["GroupId"])
    ]
    assert proxy_ingress and set(proxy_ingress) <= set(depends)


def test_the_global_knowledge_base_is_loaded_at_deploy_after_the_migrations(
    deployment: Deployment, templates: dict[str, Template]
) -> None:
    data = templates["data"]
    trigger = _trigger(data, deployment.data.kb_seeding)
    properties = trigger["Properties"]
    # Re-run when the function or its layers (so the articles) change.
    seed = logical_id(deployment.data.kb_seed.function)[:-8]
    assert f'"Ref": "{seed}CurrentVersion' in json.dumps(properties["HandlerArn"])
    assert properties["ExecuteOnHandlerChange"] is True
    assert properties["InvocationType"] == "RequestResponse"  # a failure fails the deploy
    depends = set(trigger.get("DependsOn", []))
    assert logical_id(deployment.data.migration) in depends
    # With OpenSearch: after the collection and the seed's own data access policy.
    vectors = deployment.data.runtime.vectors
    assert vectors is not None
    assert logical_id(vectors.collection) in depends
    [policy] = resources(data, "AWS::OpenSearchServerless::AccessPolicy")
    assert policy in depends
    # The function stops before the trigger gives up on it, and both inside the 15
    # minutes that CDK's trigger provider (itself a Lambda function) runs at most.
    functions = resources(data, "AWS::Lambda::Function")
    function_seconds = functions[logical_id(deployment.data.kb_seed.function)]["Properties"][
        "Timeout"
    ]
    invocation_seconds = int(properties["Timeout"]) / 1000
    assert 5 * 60 <= function_seconds < invocation_seconds < 15 * 60


def test_the_secret_rotation_function_reaches_secrets_manager(
    deployment: Deployment, templates: dict[str, Template]
) -> None:
    network = deployment.network.network
    endpoints_group = logical_id(network.endpoints_security_group)
    sources = [json.dumps(s) for s in _ingress_sources(templates["network"], endpoints_group)]
    rotation_group = logical_id(network.rotation_security_group)
    assert json.dumps({"Fn::GetAtt": [rotation_group, "GroupId"]}) in sources
    rotation = resources(templates["data"], "AWS::Serverless::Application")
    [application] = rotation.values()
    assert "SecretRotation" in json.dumps(
        application["Properties"]["Parameters"]["vpcSecurityGroupIds"]
    )
