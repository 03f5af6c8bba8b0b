"""OpenSearch Serverless VECTORSEARCH collection for knowledge bases and case memory,
reachable only through its VPC endpoint. Data access is granted per function role in the
stack where the role lives (`VectorAccess`), so the data stack never depends on them."""

from __future__ import annotations

import hashlib
import json

from aws_cdk import Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_opensearchserverless as aoss
from constructs import Construct

from faultmaven_infra.constructs.network import Network


class VectorCollection(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, network: Network) -> None:
        super().__init__(scope, construct_id)
        # Collection and policy names: lowercase, 3-32 characters, unique per account+region.
        self.name = "fm-" + hashlib.sha256(self.node.path.encode()).hexdigest()[:12]
        group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=network.vpc,
            description="OpenSearch Serverless endpoint: HTTPS from the functions only",
            allow_all_outbound=False,
        )
        group.add_ingress_rule(network.functions_security_group, ec2.Port.tcp(443), "functions")
        endpoint = aoss.CfnVpcEndpoint(
            self,
            "Endpoint",
            name=f"{self.name}-vpce",
            vpc_id=network.vpc.vpc_id,
            subnet_ids=network.vpc.select_subnets(
                subnet_type=ec2.SubnetType.PRIVATE_ISOLATED
            ).subnet_ids,
            security_group_ids=[group.security_group_id],
        )
        collection_rule = {"ResourceType": "collection", "Resource": [f"collection/{self.name}"]}
        encryption = aoss.CfnSecurityPolicy(
            self,
            "Encryption",
            name=f"{self.name}-enc",
            type="encryption",
            policy=json.dumps({"Rules": [collection_rule], "AWSOwnedKey": True}),
        )
        network_policy = aoss.CfnSecurityPolicy(
            self,
            "NetworkPolicy",
            name=f"{self.name}-net",
            type="network",
            policy=Stack.of(self).to_json_string(
                [
                    {
                        "Rules": [collection_rule],
                        "AllowFromPublic": False,
                        "SourceVPCEs": [endpoint.attr_id],
                    }
                ]
            ),
        )
        self.collection = aoss.CfnCollection(
            self,
            "Collection",
            name=self.name,
            type="VECTORSEARCH",
            standby_replicas="ENABLED",
            description="FaultMaven knowledge bases and case working memory",
        )
        self.collection.node.add_dependency(encryption)
        self.collection.node.add_dependency(network_policy)
        self.endpoint_url = self.collection.attr_collection_endpoint
        self.arn = self.collection.attr_arn


# What a role that only searches needs: the index's mapping (the store checks the model
# and dimension it records) and its documents. Writers also create and update indices:
# the index exists from the first deploy on (the knowledge seed writes the global KB).
READ_PERMISSIONS = ["aoss:DescribeIndex", "aoss:ReadDocument"]
READ_WRITE_PERMISSIONS = [
    "aoss:CreateIndex",
    "aoss:UpdateIndex",
    "aoss:DescribeIndex",
    "aoss:ReadDocument",
    "aoss:WriteDocument",
]


class VectorAccess(Construct):
    """Index and document access to one collection for the given roles: the collection's
    data-access policy plus the IAM permission to call it. `read_only` leaves out every
    index and document write (OpenSearch Serverless authorizes data access by this policy
    alone; aoss:APIAccessAll only lets the role call the collection)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        collection_name: str,
        collection_arn: str,
        roles: list[iam.IRole],
        read_only: bool = False,
    ) -> None:
        super().__init__(scope, construct_id)
        index_permissions = READ_PERMISSIONS if read_only else READ_WRITE_PERMISSIONS
        digest = hashlib.sha256(self.node.path.encode()).hexdigest()[:8]
        aoss.CfnAccessPolicy(
            self,
            "Policy",
            name=f"{collection_name}-{digest}",  # 3 + 12 + 1 + 8 = 24 characters
            type="data",
            policy=Stack.of(self).to_json_string(
                [
                    {
                        "Rules": [
                            {
                                "ResourceType": "collection",
                                "Resource": [f"collection/{collection_name}"],
                                "Permission": ["aoss:DescribeCollectionItems"],
                            },
                            {
                                "ResourceType": "index",
                                "Resource": [f"index/{collection_name}/*"],
                                "Permission": index_permissions,
                            },
                        ],
                        "Principal": [role.role_arn for role in roles],
                    }
                ]
            ),
        )
        for role in roles:
            role.add_to_principal_policy(
                iam.PolicyStatement(actions=["aoss:APIAccessAll"], resources=[collection_arn])
            )
