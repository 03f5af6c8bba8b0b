"""Aurora PostgreSQL Serverless v2 behind RDS Proxy. The functions authenticate to the
proxy with IAM (no password anywhere in their configuration); only the proxy and the
rotation function read the generated master secret."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_rds as rds
from constructs import Construct

from faultmaven_infra.constructs.log_groups import retention
from faultmaven_infra.constructs.network import ISOLATED, Network

DATABASE_NAME = "faultmaven"
DATABASE_USER = "faultmaven"
PORT = 5432
# The local runtime runs PostgreSQL 16 (pgserver); production stays on the same major.
ENGINE_VERSION = rds.AuroraPostgresEngineVersion.VER_16_9


class Database(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        network: Network,
        log_retention_days: int,
        min_capacity: float = 0.5,
        max_capacity: float = 8,
    ) -> None:
        super().__init__(scope, construct_id)
        vpc = network.vpc
        cluster_group = ec2.SecurityGroup(
            self,
            "ClusterSecurityGroup",
            vpc=vpc,
            description="Aurora: PostgreSQL from RDS Proxy and the rotation function only",
            allow_all_outbound=False,
        )
        proxy_group = ec2.SecurityGroup(
            self,
            "ProxySecurityGroup",
            vpc=vpc,
            description="RDS Proxy: PostgreSQL from the FaultMaven functions only",
            allow_all_outbound=False,
        )
        proxy_group.add_ingress_rule(
            network.functions_security_group, ec2.Port.tcp(PORT), "functions"
        )
        proxy_group.add_egress_rule(cluster_group, ec2.Port.tcp(PORT), "to Aurora")
        cluster_group.add_ingress_rule(proxy_group, ec2.Port.tcp(PORT), "from RDS Proxy")

        self.cluster = rds.DatabaseCluster(
            self,
            "Cluster",
            engine=rds.DatabaseClusterEngine.aurora_postgres(version=ENGINE_VERSION),
            credentials=rds.Credentials.from_generated_secret(DATABASE_USER),
            default_database_name=DATABASE_NAME,
            writer=rds.ClusterInstance.serverless_v2(
                "Writer", auto_minor_version_upgrade=True, enable_performance_insights=True
            ),
            serverless_v2_min_capacity=min_capacity,
            serverless_v2_max_capacity=max_capacity,
            vpc=vpc,
            vpc_subnets=ISOLATED,
            security_groups=[cluster_group],
            port=PORT,
            storage_encrypted=True,
            iam_authentication=True,
            deletion_protection=True,
            removal_policy=RemovalPolicy.SNAPSHOT,
            backup=rds.BackupProps(retention=Duration.days(7)),
            cloudwatch_logs_exports=["postgresql"],
            cloudwatch_logs_retention=retention(log_retention_days),
            copy_tags_to_snapshot=True,
        )
        assert self.cluster.secret is not None
        self.secret = self.cluster.secret
        # The rotation function reaches Aurora directly (CDK admits it to the cluster)
        # and Secrets Manager through the endpoint (its group is admitted by the network).
        self.cluster.add_rotation_single_user(
            automatically_after=Duration.days(30),
            endpoint=network.endpoints["SecretsManager"],
            vpc_subnets=ISOLATED,
            security_group=network.rotation_security_group,
        )

        self.proxy = self.cluster.add_proxy(
            "Proxy",
            secrets=[self.secret],
            vpc=vpc,
            vpc_subnets=ISOLATED,
            security_groups=[proxy_group],
            iam_auth=True,
            require_tls=True,
            idle_client_timeout=Duration.minutes(30),
        )
        # What the functions are told: a user and host, never a password.
        self.url = (
            f"postgresql://{DATABASE_USER}@{self.proxy.endpoint}:{PORT}/{DATABASE_NAME}"
            "?sslmode=require"
        )

    def grant_connect(self, grantee: iam.IGrantable) -> None:
        """rds-db:connect as the application user, through the proxy only."""
        self.proxy.grant_connect(grantee, DATABASE_USER)
