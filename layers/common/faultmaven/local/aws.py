"""The AWS side of the local runtime and the tests, on a moto server: the evidence bucket
with its S3 → Lambda notification, the Lambda functions, and the preprocessing and
investigation state machines from the very ASL files CDK deploys, executed by moto with
every Lambda task dispatched in-process to our real handlers in `functions/`.

moto can run Lambda code only in Docker; we replace `LambdaFunction._invoke_lambda` (a
private API: moto is pinned and `tests/integration/test_local_aws.py` covers the patch).
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import os
import threading
import traceback
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.request import Request, urlopen

from faultmaven.core.logging import logger
from faultmaven.core.settings import Settings
from faultmaven.core.storage import UPLOAD_PREFIXES
from faultmaven.investigation.statemachine import STATE_MACHINE_NAME as INVESTIGATION_STATE_MACHINE
from faultmaven.investigation.statemachine import TASK_HANDLERS as INVESTIGATION_HANDLERS
from faultmaven.investigation.statemachine import definition_path as investigation_definition_path
from faultmaven.investigation.statemachine import function_name as investigation_function_name
from faultmaven.preprocessing.statemachine import TASK_HANDLERS, definition_path, render

ACCOUNT = "123456789012"
ROLE_NAME = "faultmaven-local-lambda"
STATE_MACHINE_NAME = "faultmaven-preprocessing"
TRIGGER_FUNCTION = "faultmaven-upload-trigger"
MIRROR_FUNCTION = "faultmaven-local-s3-mirror"

LambdaCallable = Callable[[dict[str, Any], Any], Any]


def repo_root() -> Path:
    """The checkout this package is installed from (editable install): functions/ and
    infra/ live beside layers/."""
    configured = os.environ.get("FAULTMAVEN_REPO_ROOT")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[4]


@dataclass
class LambdaContext:
    """What the Lambda runtime hands a handler, as far as our code and Powertools read it."""

    function_name: str
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    memory_limit_in_mb: int = 1024
    function_version: str = "$LATEST"

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return 900_000


def step_function_name(handler_attr: str) -> str:
    return "faultmaven-preprocess-" + handler_attr.replace("_", "-")


class HandlerRegistry:
    """Function name → the real handler, imported from `functions/` on first use."""

    def __init__(self, root: Path) -> None:
        self._root = root
        self._modules: dict[Path, ModuleType] = {}
        self._lock = threading.Lock()
        self.extra: dict[str, LambdaCallable] = {}

    def resolve(self, function_name: str) -> LambdaCallable | None:
        if function_name in self.extra:
            return self.extra[function_name]
        if function_name == TRIGGER_FUNCTION:
            return self._attr("upload_trigger", "handler")
        for attr in TASK_HANDLERS.values():
            if function_name == step_function_name(attr):
                return self._attr("preprocess", attr)
        for attr in INVESTIGATION_HANDLERS.values():
            if function_name == investigation_function_name(attr):
                return self._attr("investigate", attr)
        return None

    def _attr(self, function_dir: str, attr: str) -> LambdaCallable:
        path = self._root / "functions" / function_dir / "handler.py"
        with self._lock:
            module = self._modules.get(path)
            if module is None:
                spec = importlib.util.spec_from_file_location(f"fm_local_{function_dir}", path)
                assert spec is not None
                assert spec.loader is not None
                module = importlib.util.module_from_spec(spec)
                spec.loader.exec_module(module)
                self._modules[path] = module
        handler: LambdaCallable = getattr(module, attr)
        return handler


_registry: HandlerRegistry | None = None
_patch_lock = threading.Lock()


def install_dispatcher(registry: HandlerRegistry) -> None:
    """Route moto's Lambda invocations (from Step Functions tasks and S3 notifications)
    to `registry`. Errors come back the way Lambda reports them: a JSON payload with
    errorType/errorMessage and the function-error flag; moto swallows exceptions."""
    global _registry
    from moto.awslambda.models import LambdaFunction

    with _patch_lock:
        _registry = registry
        if getattr(LambdaFunction, "_faultmaven_patched", False):
            return

        def invoke(self: Any, event: Any = None) -> tuple[str, bool, str]:
            handler = _registry.resolve(self.function_name) if _registry else None
            if handler is None:
                error = {"errorType": "UnknownFunction", "errorMessage": self.function_name}
                return json.dumps(error), True, ""
            payload = json.loads(event) if isinstance(event, str | bytes) else (event or {})
            try:
                result = handler(payload, LambdaContext(self.function_name))
            except Exception as exc:  # reported to the caller exactly as Lambda would
                error = {
                    "errorType": type(exc).__name__,
                    "errorMessage": str(exc),
                    "stackTrace": traceback.format_tb(exc.__traceback__)[-5:],  # frames only
                }
                return json.dumps(error), True, ""
            return json.dumps(result), False, ""

        setattr(LambdaFunction, "_invoke_lambda", invoke)  # noqa: B010 - see module docstring
        setattr(LambdaFunction, "_faultmaven_patched", True)  # noqa: B010


def configure_moto(endpoint: str) -> None:
    """Step Functions must really execute; posted before any function is created (those
    created earlier would land in the other Lambda backend and notifications would
    silently do nothing)."""
    body = json.dumps({"stepfunctions": {"execute_state_machine": True}}).encode()
    request = Request(  # noqa: S310 - a loopback moto endpoint from settings
        f"{endpoint}/moto-api/config", data=body, headers={"Content-Type": "application/json"}
    )
    with urlopen(request, timeout=10) as response:  # noqa: S310
        response.read()


class S3Mirror:
    """Artifacts copied to disk as they arrive, so a restart of the local runtime (moto
    keeps everything in memory) loses none."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _path(self, key: str) -> Path:
        path = (self.directory / key).resolve()
        if self.directory.resolve() not in path.parents:
            raise ValueError("key escapes the mirror")
        return path

    def save(self, key: str, body: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)

    def remove(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def restore(self, s3: Any, bucket: str) -> int:
        count = 0
        if not self.directory.exists():
            return 0
        for path in self.directory.rglob("*"):
            if path.is_file():
                key = path.relative_to(self.directory).as_posix()
                s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())
                count += 1
        return count


def _mirror_handlers(
    mirror: S3Mirror, s3: Any, bucket: str, trigger: LambdaCallable
) -> tuple[LambdaCallable, LambdaCallable]:
    from urllib.parse import unquote_plus

    def on_created(event: dict[str, Any], context: Any) -> Any:
        for record in event.get("Records", []):
            key = unquote_plus(record["s3"]["object"]["key"])
            mirror.save(key, s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        return trigger(event, context)

    def on_removed(event: dict[str, Any], context: Any) -> Any:
        for record in event.get("Records", []):
            mirror.remove(unquote_plus(record["s3"]["object"]["key"]))
        return {"removed": len(event.get("Records", []))}

    return on_created, on_removed


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", "# dispatched in-process by faultmaven.local.aws\n")
    return buffer.getvalue()


def provision(
    settings: Settings, *, mirror: S3Mirror | None = None, root: Path | None = None
) -> dict[str, str]:
    """Create the bucket, functions, notification and both state machines on the moto
    server at `settings.aws_endpoint_url`; return the settings that name the machines
    (`preprocessing_state_machine_arn`, `investigation_state_machine_arn`)."""
    from faultmaven.adapters.aws import client

    root = root or repo_root()
    assert settings.aws_endpoint_url, "provision needs a moto endpoint"
    configure_moto(settings.aws_endpoint_url)
    registry = HandlerRegistry(root)
    install_dispatcher(registry)

    iam, lam, s3, sfn = (
        client(name, settings) for name in ("iam", "lambda", "s3", "stepfunctions")
    )
    role_arn = _role(iam)
    code = _zip()

    def function(name: str, handler: str) -> str:
        try:
            return str(lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"])
        except lam.exceptions.ResourceNotFoundException:
            created = lam.create_function(
                FunctionName=name,
                Runtime="python3.12",
                Role=role_arn,
                Handler=handler,
                Code={"ZipFile": code},
                Timeout=60,
            )
            return str(created["FunctionArn"])

    substitutions = {
        placeholder: function(step_function_name(attr), f"handler.{attr}")
        for placeholder, attr in TASK_HANDLERS.items()
    }
    trigger_arn = function(TRIGGER_FUNCTION, "handler.handler")

    bucket = settings.evidence_bucket
    with contextlib.suppress(
        s3.exceptions.BucketAlreadyOwnedByYou, s3.exceptions.BucketAlreadyExists
    ):
        s3.create_bucket(Bucket=bucket)
    s3.put_bucket_cors(
        Bucket=bucket,
        CORSConfiguration={
            "CORSRules": [
                {
                    "AllowedOrigins": settings.cors_origins or ["*"],
                    "AllowedMethods": ["GET", "POST", "PUT"],
                    "AllowedHeaders": ["*"],
                    "MaxAgeSeconds": 3000,
                }
            ]
        },
    )
    configurations: list[dict[str, Any]] = [
        _notification(trigger_arn, "s3:ObjectCreated:*", prefix) for prefix in UPLOAD_PREFIXES
    ]
    if mirror is not None:
        restored = mirror.restore(s3, bucket)  # before the notification: no re-processing
        if restored:
            logger.info("restored artifacts from disk", extra={"count": restored})
        trigger = registry.resolve(TRIGGER_FUNCTION)
        assert trigger is not None
        on_created, on_removed = _mirror_handlers(mirror, s3, bucket, trigger)
        registry.extra[TRIGGER_FUNCTION] = on_created
        registry.extra[MIRROR_FUNCTION] = on_removed
        mirror_arn = function(MIRROR_FUNCTION, "handler.handler")
        configurations.extend(
            _notification(mirror_arn, "s3:ObjectRemoved:*", prefix) for prefix in UPLOAD_PREFIXES
        )
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={"LambdaFunctionConfigurations": configurations},
    )

    preprocessing = _state_machine(
        sfn,
        STATE_MACHINE_NAME,
        render(definition_path(root).read_text(), substitutions),
        role_arn,
    )
    investigation = _state_machine(
        sfn,
        INVESTIGATION_STATE_MACHINE,
        render(
            investigation_definition_path(root).read_text(),
            {
                placeholder: function(investigation_function_name(attr), f"handler.{attr}")
                for placeholder, attr in INVESTIGATION_HANDLERS.items()
            },
        ),
        role_arn,
    )
    return {
        "preprocessing_state_machine_arn": preprocessing,
        "investigation_state_machine_arn": investigation,
    }


def _state_machine(sfn: Any, name: str, definition: str, role_arn: str) -> str:
    existing = [
        machine["stateMachineArn"]
        for machine in sfn.list_state_machines()["stateMachines"]
        if machine["name"] == name
    ]
    if existing:
        sfn.update_state_machine(stateMachineArn=existing[0], definition=definition)
        return str(existing[0])
    created = sfn.create_state_machine(name=name, definition=definition, roleArn=role_arn)
    return str(created["stateMachineArn"])


def _notification(function_arn: str, event: str, prefix: str) -> dict[str, Any]:
    return {
        "LambdaFunctionArn": function_arn,
        "Events": [event],
        "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": prefix}]}},
    }


def _role(iam: Any) -> str:
    try:
        return str(iam.get_role(RoleName=ROLE_NAME)["Role"]["Arn"])
    except iam.exceptions.NoSuchEntityException:
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": ["lambda.amazonaws.com", "states.amazonaws.com"]},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
        return str(
            iam.create_role(RoleName=ROLE_NAME, AssumeRolePolicyDocument=json.dumps(trust))["Role"][
                "Arn"
            ]
        )


def export_environment(settings: Settings) -> None:
    """Make the functions' own settings (read from the environment, as on Lambda) point
    at the same stores as the local runtime, and use the same model and limits."""
    from faultmaven.core.settings import ENV_PREFIX, get_settings
    from faultmaven.lambda_entry import container_from_env

    values: dict[str, str | None] = {
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        f"{ENV_PREFIX}ENVIRONMENT": settings.environment.value,
        f"{ENV_PREFIX}AWS_ENDPOINT_URL": settings.aws_endpoint_url,
        f"{ENV_PREFIX}AWS_REGION": settings.aws_region,
        f"{ENV_PREFIX}EVIDENCE_BUCKET": settings.evidence_bucket,
        f"{ENV_PREFIX}PREPROCESSING_STATE_MACHINE_ARN": settings.preprocessing_state_machine_arn,
        f"{ENV_PREFIX}MAX_UPLOAD_BYTES": str(settings.max_upload_bytes),
        f"{ENV_PREFIX}LOG_LEVEL": settings.log_level,
        # The functions protect themselves with the same budgets as the API process.
        f"{ENV_PREFIX}RATE_LIMIT_SCALE": str(settings.rate_limit_scale),
        f"{ENV_PREFIX}REPUTATION_ENABLED": str(settings.reputation_enabled).lower(),
    }
    # The agent's and the investigation's limits and the model budgets: the
    # investigation's tasks run agent turns, which must behave as the API process's do.
    shared = ("agent_", "investigation_", "llm_case_budget_", "llm_session_budget_")
    for name, value in settings.model_dump().items():
        if name.startswith(shared) and value is not None:
            values[f"{ENV_PREFIX}{name.upper()}"] = str(value)
    # The model the pipeline's Summarize step asks: the API process's own choice.
    values.update(
        {
            f"{ENV_PREFIX}LLM_PROVIDER": settings.resolved_llm_provider.value,
            f"{ENV_PREFIX}LLM_MODEL": settings.llm_model,
            f"{ENV_PREFIX}LLM_SUMMARIES": str(settings.llm_summaries).lower(),
            f"{ENV_PREFIX}ANTHROPIC_BASE_URL": settings.anthropic_base_url,
            f"{ENV_PREFIX}OPENAI_COMPATIBLE_BASE_URL": settings.openai_compatible_base_url,
            f"{ENV_PREFIX}OPENAI_COMPATIBLE_MODEL": settings.openai_compatible_model,
        }
    )
    for name, secret in (
        ("ANTHROPIC_API_KEY", settings.anthropic_api_key),
        ("OPENAI_COMPATIBLE_API_KEY", settings.openai_compatible_api_key),
    ):
        values[f"{ENV_PREFIX}{name}"] = None if secret is None else secret.get_secret_value()
    values[f"{ENV_PREFIX}LLM_FALLBACK"] = (
        None if settings.llm_fallback is None else settings.llm_fallback.value
    )
    values[f"{ENV_PREFIX}JWT_SECRET_ARN"] = settings.jwt_secret_arn or None
    values[f"{ENV_PREFIX}JWT_SECRET"] = (
        None if settings.jwt_secret is None else settings.jwt_secret.get_secret_value()
    )
    # Exactly these settings: what they leave unset is removed, so a key or a stub's
    # address exported before (another configuration of the same process) cannot linger.
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    get_settings.cache_clear()
    container_from_env.cache_clear()
