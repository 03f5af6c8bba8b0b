"""The VPC: private subnets only, no NAT. Everything the functions call leaves through a
VPC endpoint, so a function has no route to the internet at all."""

from __future__ import annotations

from aws_cdk import aws_ec2 as ec2
from constructs import Construct

from faultmaven_infra.constructs.log_groups import log_group

ISOLATED = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)

# AWS APIs the functions call from inside the VPC (S3 has a gateway endpoint).
INTERFACE_ENDPOINTS: dict[str, ec2.InterfaceVpcEndpointAwsService] = {
    "SecretsManager": ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
    "StepFunctions": ec2.InterfaceVpcEndpointAwsService.STEP_FUNCTIONS,
    "Logs": ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS,
    "BedrockRuntime": ec2.InterfaceVpcEndpointAwsService.BEDROCK_RUNTIME,
    "Sts": ec2.InterfaceVpcEndpointAwsService.STS,
    # api_auth starts background tasks (exports, account erasure) by invoking a function.
    "Lambda": ec2.InterfaceVpcEndpointAwsService.LAMBDA_,
}


class Network(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, log_retention_days: int) -> None:
        super().__init__(scope, construct_id)
        flow_logs = log_group(self, "FlowLogs", days=log_retention_days)
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            max_azs=2,
            nat_gateways=0,
            subnet_configuration=[
                ec2.SubnetConfiguration(
                    name="private", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=22
                )
            ],
            flow_logs={
                "All": ec2.FlowLogOptions(
                    destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_logs),
                    traffic_type=ec2.FlowLogTrafficType.ALL,
                )
            },
        )
        # Every function shares this group; the data stores admit exactly this group.
        self.functions_security_group = ec2.SecurityGroup(
            self,
            "Functions",
            vpc=self.vpc,
            description="FaultMaven Lambda functions",
            allow_all_outbound=True,  # isolated subnets: outbound reaches only the VPC
        )
        self.endpoints_security_group = ec2.SecurityGroup(
            self,
            "Endpoints",
            vpc=self.vpc,
            description="Interface VPC endpoints: HTTPS from the functions only",
            allow_all_outbound=False,
        )
        self.endpoints_security_group.add_ingress_rule(
            self.functions_security_group, ec2.Port.tcp(443), "functions call AWS APIs"
        )
        # The database secret's rotation function calls Secrets Manager too.
        self.rotation_security_group = ec2.SecurityGroup(
            self,
            "SecretRotation",
            vpc=self.vpc,
            description="Aurora secret rotation function",
            allow_all_outbound=True,  # isolated subnets: outbound reaches only the VPC
        )
        self.endpoints_security_group.add_ingress_rule(
            self.rotation_security_group, ec2.Port.tcp(443), "secret rotation"
        )
        self.vpc.add_gateway_endpoint("S3", service=ec2.GatewayVpcEndpointAwsService.S3)
        self.endpoints: dict[str, ec2.InterfaceVpcEndpoint] = {
            name: self.vpc.add_interface_endpoint(
                name,
                service=service,
                private_dns_enabled=True,
                open=False,  # only the groups admitted below, not the whole VPC CIDR
                subnets=ISOLATED,
                security_groups=[self.endpoints_security_group],
            )
            for name, service in INTERFACE_ENDPOINTS.items()
        }
