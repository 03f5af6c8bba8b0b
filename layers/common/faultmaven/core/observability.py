"""Traces and metrics of the Lambda entry points, through Powertools.

Tracing: Powertools Tracer on the X-Ray SDK. Each invocation gets a `## <handler>`
subsegment (annotated `ColdStart`, `Service` and, for the API, `status_code`); the
database adapter adds one subsegment per SQL statement and the AWS adapter patches
botocore, so every AWS call is one too. Powertools switches tracing off outside Lambda
(no `LAMBDA_TASK_ROOT`) and under `POWERTOOLS_TRACE_DISABLED=true`, so local runs and
tests never look for an X-Ray daemon. Responses are never recorded: they carry tokens and
case data.

Metrics: CloudWatch embedded metric format, one JSON document printed per invocation
(plus one for the cold start), which Lambda ships to CloudWatch Logs and CloudWatch turns
into metrics: no API call and no latency on the request path. Namespace from settings
(`FAULTMAVEN_METRICS_NAMESPACE`), dimension `service` (one per function; CDK names it)
and, for event functions, `handler` (the entry point, e.g. a pipeline step).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

from aws_lambda_powertools import Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.shared import constants
from aws_lambda_powertools.shared.functions import resolve_truthy_env_var_choice

LambdaHandler = Callable[[dict[str, Any], Any], Any]

# Metric names, documented in the README (Observability).
REQUESTS = "Requests"
CLIENT_ERRORS = "ClientErrors"
ERRORS = "Errors"
INVOCATIONS = "Invocations"
DURATION = "Duration"
COLD_START = "ColdStart"  # Powertools' own name for it
HANDLER_DIMENSION = "handler"


def tracing_wanted() -> bool:
    """Powertools' rule for when the Tracer is on (in Lambda, not under SAM local or
    Chalice, and `POWERTOOLS_TRACE_DISABLED` not set), checked without building a Tracer:
    building one imports the X-Ray SDK, whose recorder creates a botocore client for its
    sampler (0.3-0.9 s here), which local runs and tests should not pay for nothing."""
    if resolve_truthy_env_var_choice(env=os.getenv(constants.TRACER_DISABLED_ENV, "false")):
        return False
    in_lambda = bool(os.getenv(constants.LAMBDA_TASK_ROOT_ENV))
    emulated = bool(os.getenv(constants.SAM_LOCAL_ENV) or os.getenv(constants.CHALICE_LOCAL_ENV))
    return in_lambda and not emulated


@cache
def tracer() -> Tracer | None:
    """The process's Tracer, or None where tracing is off. No auto-patching: `patch_all`
    would import every library the X-Ray SDK knows; botocore is patched when the first
    boto3 client is built, the database traces through engine events."""
    if not tracing_wanted():
        return None
    return Tracer(auto_patch=False)


@cache
def metrics(namespace: str, service: str) -> Metrics:
    return Metrics(namespace=namespace, service=service)


def trace_aws_calls() -> None:
    """Patch botocore so each AWS API call is an X-Ray subsegment (the X-Ray SDK patches
    a module once)."""
    active = tracer()
    if active is not None:
        active.patch(["botocore"])


@contextmanager
def tracing_suspended() -> Iterator[None]:
    """No subsegments inside the block: work done during a SnapStart init belongs to no
    trace (Lambda has no segment yet), and the X-Ray SDK would warn about each one."""
    if tracer() is None:
        yield
        return
    from aws_xray_sdk import global_sdk_config

    previous = global_sdk_config.sdk_enabled()
    global_sdk_config.set_sdk_enabled(False)
    try:
        yield
    finally:
        global_sdk_config.set_sdk_enabled(previous)


def _traced(function: LambdaHandler) -> LambdaHandler:
    """The handler inside a `## <name>` subsegment. Responses are never recorded."""
    active = tracer()
    if active is None:
        return function
    traced: LambdaHandler = active.capture_lambda_handler(function, capture_response=False)
    return traced


def _annotate(key: str, value: Any) -> None:
    active = tracer()
    if active is not None:
        active.put_annotation(key, value)


def instrument_api(asgi: LambdaHandler, *, namespace: str, service: str) -> LambdaHandler:
    """An API function's handler with a traced `## handler` subsegment and the request,
    client-error and error counts of each invocation (a 5xx answer or an exception is an
    error; the ASGI adapter turns handled errors into answers)."""
    recorder = metrics(namespace, service)

    def handler(event: dict[str, Any], context: Any) -> Any:
        recorder.add_metric(name=REQUESTS, unit=MetricUnit.Count, value=1)
        try:
            response = asgi(event, context)
        except Exception:
            recorder.add_metric(name=ERRORS, unit=MetricUnit.Count, value=1)
            raise
        status = int(response.get("statusCode", 500)) if isinstance(response, dict) else 500
        if status >= 500:
            recorder.add_metric(name=ERRORS, unit=MetricUnit.Count, value=1)
        elif status >= 400:
            recorder.add_metric(name=CLIENT_ERRORS, unit=MetricUnit.Count, value=1)
        _annotate("status_code", status)
        return response

    instrumented: LambdaHandler = recorder.log_metrics(
        _traced(handler), capture_cold_start_metric=True
    )
    return instrumented


def instrument_event(
    function: LambdaHandler, *, namespace: Callable[[], tuple[str, str]]
) -> LambdaHandler:
    """An event function's handler (trigger, pipeline step, schedule, deploy task) with a
    traced `## <name>` subsegment and its invocation count, errors and duration under a
    `handler` dimension. The namespace is resolved at the first invocation, when the
    settings are, so importing the module stays free of configuration."""
    name = function.__name__
    traced = _traced(function)
    built: list[LambdaHandler] = []

    def build() -> LambdaHandler:
        recorder = metrics(*namespace())

        def measured(event: dict[str, Any], context: Any) -> Any:
            recorder.add_dimension(name=HANDLER_DIMENSION, value=name)
            recorder.add_metric(name=INVOCATIONS, unit=MetricUnit.Count, value=1)
            started = time.perf_counter()
            try:
                return traced(event, context)
            except Exception:
                recorder.add_metric(name=ERRORS, unit=MetricUnit.Count, value=1)
                raise
            finally:
                elapsed_ms = (time.perf_counter() - started) * 1000
                recorder.add_metric(name=DURATION, unit=MetricUnit.Milliseconds, value=elapsed_ms)

        measured.__name__ = name
        instrumented: LambdaHandler = recorder.log_metrics(measured, capture_cold_start_metric=True)
        return instrumented

    def handler(event: dict[str, Any], context: Any) -> Any:
        if not built:
            built.append(build())
        return built[0](event, context)

    handler.__name__ = name
    handler.__doc__ = function.__doc__
    return handler
