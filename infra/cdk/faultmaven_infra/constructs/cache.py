"""ElastiCache Serverless (Valkey, Redis protocol): sessions, rate limits, job progress,
the token denylist. TLS is always on for serverless caches; the security group admits
only the functions."""

from __future__ import annotations

import hashlib

from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticache as elasticache
from constructs import Construct

from faultmaven_infra.constructs.network import Network

PORT = 6379


class Cache(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, network: Network, max_data_gb: int = 5
    ) -> None:
        super().__init__(scope, construct_id)
        group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=network.vpc,
            description="ElastiCache: Redis protocol over TLS from the functions only",
            allow_all_outbound=False,
        )
        group.add_ingress_rule(network.functions_security_group, ec2.Port.tcp(PORT), "functions")
        digest = hashlib.sha256(self.node.path.encode()).hexdigest()[:10]
        self.cache = elasticache.CfnServerlessCache(
            self,
            "Cache",
            serverless_cache_name=f"faultmaven-{digest}",
            engine="valkey",
            major_engine_version="8",
            description="FaultMaven sessions, rate limits, job progress (nothing durable)",
            security_group_ids=[group.security_group_id],
            subnet_ids=network.vpc.select_subnets(
                subnet_type=ec2.SubnetType.PRIVATE_ISOLATED
            ).subnet_ids,
            cache_usage_limits=elasticache.CfnServerlessCache.CacheUsageLimitsProperty(
                data_storage=elasticache.CfnServerlessCache.DataStorageProperty(
                    maximum=max_data_gb, unit="GB"
                )
            ),
        )
        self.url = f"rediss://{self.cache.attr_endpoint_address}:{self.cache.attr_endpoint_port}/0"
