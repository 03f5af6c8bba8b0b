"""The architecture's rules hold by themselves: the import contracts in pyproject.toml
(run by `make lint`) each fail on a deliberate violation, and no domain module other
than a store talks to the database session itself."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

PACKAGE = ROOT / "layers" / "common" / "faultmaven"
LINT_IMPORTS = str(Path(sys.executable).with_name("lint-imports"))

# contract id → (module to change, the line that breaks the contract)
VIOLATIONS = {
    "layers": ("core/clock.py", "import faultmaven.cases.models"),
    "adapters-wired-by-the-root": ("app.py", "import faultmaven.adapters.s3"),
    "adapters-know-no-domain": ("adapters/s3.py", "import faultmaven.cases.models"),
    "sql-only-in-stores": ("cases/service.py", "import sqlalchemy"),
    "cases-store-is-private": ("evidence/service.py", "from faultmaven.cases import store"),
    "auth-store-is-private": ("cases/service.py", "from faultmaven.auth import store"),
    "history-store-is-private": ("retention/service.py", "from faultmaven.history import store"),
    "organizations-store-is-private": (
        "cases/service.py",
        "from faultmaven.organizations import store",
    ),
}


def _lint(source_root: Path, contract: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(source_root)}
    return subprocess.run(
        [LINT_IMPORTS, str(ROOT / "pyproject.toml"), "--contract", contract, "--no-cache"],
        cwd=source_root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("src")
    shutil.copytree(PACKAGE, root / "faultmaven", ignore=shutil.ignore_patterns("__pycache__"))
    return root


@pytest.mark.parametrize("contract", sorted(VIOLATIONS))
def test_each_contract_holds_and_fails_on_a_violation(
    pristine: Path, tmp_path: Path, contract: str
) -> None:
    kept = _lint(pristine, contract)
    assert kept.returncode == 0, kept.stdout[-2000:]

    broken_root = tmp_path / "src"
    shutil.copytree(pristine, broken_root)
    module, line = VIOLATIONS[contract]
    target = broken_root / "faultmaven" / module
    target.write_text(target.read_text() + f"\n{line}  # deliberate violation\n")
    broken = _lint(broken_root, contract)
    assert broken.returncode != 0
    assert "BROKEN" in broken.stdout, broken.stdout[-2000:]


# Session methods that read or write rows: only a store may call them.
_ORM_CALLS = frozenset(
    {
        "add",
        "add_all",
        "delete",
        "execute",
        "scalar",
        "scalars",
        "get",
        "flush",
        "merge",
        "query",
        "begin_nested",
        "refresh",
    }
)
_NOT_DOMAINS = frozenset({"adapters", "core", "db", "local"})


def _orm_calls(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in _ORM_CALLS
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "session"
        ):
            found.append(f"{path.relative_to(PACKAGE)}:{node.lineno} session.{node.func.attr}")
    return found


def test_only_stores_call_the_session() -> None:
    offenders = [
        call
        for domain in sorted(p for p in PACKAGE.iterdir() if p.is_dir())
        if domain.name not in _NOT_DOMAINS and not domain.name.startswith("__")
        for module in sorted(domain.rglob("*.py"))
        if module.name != "store.py"
        for call in _orm_calls(module)
    ]
    assert offenders == []


def test_the_session_check_sees_a_call() -> None:
    """The check above is only as good as its detector."""
    sample = PACKAGE / "cases" / "service.py"
    assert _orm_calls(PACKAGE / "cases" / "store.py")
    assert not _orm_calls(sample)
