"""The network stack: the VPC, its endpoints and the functions' security group."""

from __future__ import annotations

from typing import Any

from aws_cdk import Stack
from constructs import Construct

from faultmaven_infra.config import DeployConfig
from faultmaven_infra.constructs.network import Network


class NetworkStack(Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, config: DeployConfig, **kwargs: Any
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.network = Network(self, "Network", log_retention_days=config.log_retention_days)
