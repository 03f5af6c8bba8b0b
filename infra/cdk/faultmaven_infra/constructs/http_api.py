"""The HTTP API: every operation of the OpenAPI contract (`docs/openapi.json`, kept in
step with the code by a test) routed to the function that serves its domain, so a route
that exists in the app and not here fails the synth instead of a user."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import jsii
from aws_cdk import Duration
from aws_cdk import aws_apigateway as apigw_v1
from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from faultmaven_infra.constructs.log_groups import log_group

_METHODS = {m.value: m for m in apigw.HttpMethod}
CORS_ALLOW_HEADERS = [
    "authorization",
    "content-type",
    "accept",
    "x-request-id",
    "x-session-id",
    "idempotency-key",
    "x-user-id",
    "x-user-roles",
]
CORS_EXPOSE_HEADERS = [
    "x-request-id",
    "location",
    "retry-after",
    "x-error-code",
    "x-title-source",
    "x-idempotency-replayed",
]


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    tag: str


def operations(openapi_document: Path) -> list[Operation]:
    document = json.loads(openapi_document.read_text())
    found = []
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            tags = operation.get("tags") or []
            if len(tags) != 1:
                raise ValueError(f"{method.upper()} {path}: exactly one tag routes it, got {tags}")
            found.append(Operation(method.upper(), path, tags[0]))
    return found


@jsii.implements(apigw.IAccessLogSettings)
class _AccessLogs:
    def __init__(self, destination: apigw.IAccessLogDestination) -> None:
        self._destination = destination

    @property
    def destination(self) -> apigw.IAccessLogDestination:
        return self._destination

    @property
    def format(self) -> apigw_v1.AccessLogFormat:
        # Who called what and how it went; never headers or bodies (tokens, evidence).
        return apigw_v1.AccessLogFormat.custom(
            json.dumps(
                {
                    "requestId": "$context.requestId",
                    "ip": "$context.identity.sourceIp",
                    "requestTime": "$context.requestTime",
                    "method": "$context.httpMethod",
                    "routeKey": "$context.routeKey",
                    "status": "$context.status",
                    "protocol": "$context.protocol",
                    "responseLength": "$context.responseLength",
                    "integrationLatency": "$context.integrationLatency",
                    "integrationError": "$context.integrationErrorMessage",
                }
            )
        )


class HttpApi(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        openapi_document: Path,
        functions_by_tag: Mapping[str, lambda_.IFunction],
        default_function: lambda_.IFunction,
        allowed_origins: tuple[str, ...],
        rate_limit: int,
        burst_limit: int,
        log_retention_days: int,
    ) -> None:
        super().__init__(scope, construct_id)
        cors = (
            apigw.CorsPreflightOptions(
                allow_origins=list(allowed_origins),
                allow_methods=[apigw.CorsHttpMethod.ANY],
                # FaultMaven's extension and dashboard send the session, idempotency and
                # user headers and read the error code and the title's source back.
                allow_headers=CORS_ALLOW_HEADERS,
                expose_headers=CORS_EXPOSE_HEADERS,
                max_age=Duration.hours(1),
            )
            if allowed_origins
            else None
        )
        integration_by_target: dict[str, integrations.HttpLambdaIntegration] = {}

        def integration(target: lambda_.IFunction) -> integrations.HttpLambdaIntegration:
            key = target.node.path
            if key not in integration_by_target:
                integration_by_target[key] = integrations.HttpLambdaIntegration(
                    f"Integration{len(integration_by_target)}", target
                )
            return integration_by_target[key]

        self.api = apigw.HttpApi(
            self,
            "Api",
            description="FaultMaven API (/api/v1)",
            cors_preflight=cors,
            create_default_stage=False,
            # Anything not in the contract still gets the app's JSON error envelope.
            default_integration=integration(default_function),
        )
        self.stage = apigw.HttpStage(
            self,
            "Stage",
            http_api=self.api,
            stage_name="$default",
            auto_deploy=True,
            throttle=apigw.ThrottleSettings(rate_limit=rate_limit, burst_limit=burst_limit),
            access_log_settings=_AccessLogs(
                apigw.LogGroupLogDestination(log_group(self, "AccessLogs", days=log_retention_days))
            ),
        )
        for operation in operations(openapi_document):
            if operation.tag not in functions_by_tag:
                raise ValueError(
                    f"{operation.method} {operation.path}: no function serves tag {operation.tag!r}"
                )
            self.api.add_routes(
                path=operation.path,
                methods=[_METHODS[operation.method]],
                integration=integration(functions_by_tag[operation.tag]),
            )

    @property
    def url(self) -> str:
        return f"{self.api.api_endpoint}/api/v1"
