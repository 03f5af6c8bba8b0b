"""One synthesized deployment per test session (≈ 12 s with cdk-nag), shared by every
infra module; a second, differently configured one lives in its own module.

The layers come from `build/assets` (`make assets`, which `make test` runs first)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "infra" / "cdk"))

from aws_cdk.assertions import Template
from faultmaven_infra.app import Deployment, build_app

ORIGINS = "https://app.example.com,chrome-extension://abcdefghijklmnop"


@pytest.fixture(scope="session")
def synth_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cdk.out")


@pytest.fixture(scope="session")
def deployment(synth_dir: Path) -> Deployment:
    """The default deployment (OpenSearch Serverless, SnapStart on), with cdk-nag: a
    finding nobody acknowledged fails this synth."""
    deployment = build_app({"allowedOrigins": ORIGINS}, outdir=str(synth_dir))
    deployment.app.synth()
    return deployment


@pytest.fixture(scope="session")
def templates(deployment: Deployment) -> dict[str, Template]:
    return {
        stack.stack_name.split("-", 1)[1].lower(): Template.from_stack(stack)
        for stack in deployment.stacks
    }
