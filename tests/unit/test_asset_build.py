"""The pure parts of infra/assets/build.py: which requirement lands in which layer, how the
preprocessing layer sheds what core already ships, when a rebuild is due, the Lambda size
limit and which Python compiles the layers. pip never runs here (no network in tests)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = ROOT / "infra" / "assets" / "build.py"
MiB = 2**20


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("faultmaven_asset_build_under_test", BUILD_SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look the module up here
    spec.loader.exec_module(module)
    return module


build = _load()

PYPROJECT = """
[project]
name = "x"
dependencies = [
    "fastapi>=0.115,<1",
    "psycopg[binary]>=3.2,<4",
    "Drain3>=0.9.11,<0.10",
    "detect_secrets>=1.5,<2",
    "python-dateutil<3",
]
"""


# --- dependency split ------------------------------------------------------------------


def test_preprocessing_only_requirements_leave_core() -> None:
    split = build.split_dependencies(PYPROJECT)

    assert split.core == (
        "fastapi>=0.115,<1",
        "psycopg[binary]>=3.2,<4",
        "detect_secrets>=1.5,<2",
        "python-dateutil<3",
    )
    assert split.preprocessing == ("Drain3>=0.9.11,<0.10",)


def test_a_preprocessing_requirement_missing_from_pyproject_is_an_error() -> None:
    text = PYPROJECT.replace('    "Drain3>=0.9.11,<0.10",\n', "")

    with pytest.raises(build.BuildError, match="drain3"):
        build.split_dependencies(text)


def test_the_real_pyproject_splits_as_designed() -> None:
    split = build.split_dependencies((ROOT / "pyproject.toml").read_text())

    assert {build.requirement_name(r) for r in split.preprocessing} == {"drain3"}
    # Redaction runs wherever a model is called or history recorded: every function.
    assert "detect-secrets" in {build.requirement_name(r) for r in split.core}
    assert "python-dateutil<3" in split.core
    assert "psycopg" in {build.requirement_name(r) for r in split.core}


def test_platform_tags_carry_both_manylinux_flavours() -> None:
    assert build.platform_tags("aarch64") == ("manylinux2014_aarch64", "manylinux_2_28_aarch64")
    assert build.platform_tags("host", machine="x86_64") == (
        "manylinux2014_x86_64",
        "manylinux_2_28_x86_64",
    )
    with pytest.raises(build.BuildError):
        build.platform_tags("armv7")


# --- layer trees -----------------------------------------------------------------------


def _install(
    site: Path, dist: str, version: str, files: dict[str, str], record: bool = True
) -> None:
    """A fake installed distribution: its files plus a dist-info with RECORD."""
    info = site / f"{dist}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Name: {dist}\nVersion: {version}\n")
    for relative, text in files.items():
        path = site / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    listed = [*files, f"{info.name}/METADATA", f"{info.name}/RECORD"]
    if record:
        (info / "RECORD").write_text("".join(f"{p},sha256=x,1\n" for p in listed))
    else:
        tops = sorted({relative.split("/")[0].removesuffix(".py") for relative in files})
        (info / "top_level.txt").write_text("\n".join(tops) + "\n")


def test_distributions_core_ships_are_dropped_from_preprocessing(tmp_path: Path) -> None:
    core, pre = tmp_path / "core", tmp_path / "pre"
    _install(core, "typing_extensions", "4.16.0", {"typing_extensions.py": "core"})
    _install(core, "idna", "3.20", {"idna/__init__.py": "core"})
    _install(pre, "typing_extensions", "4.16.0", {"typing_extensions.py": "dup"})
    _install(pre, "IDNA", "3.20", {"idna/__init__.py": "dup", "idna/codec.py": "dup"})
    _install(pre, "drain3", "0.9.11", {"drain3/__init__.py": "keep"})
    _install(pre, "jsonpickle", "1.5.1", {"jsonpickle/__init__.py": "keep"}, record=False)
    _install(core, "six", "1.17.0", {"six.py": "core"})
    _install(pre, "six", "1.17.0", {"six.py": "dup"}, record=False)

    dropped = build.drop_distributions_in(pre, core)

    assert sorted(dropped) == ["idna", "six", "typing-extensions"]
    assert sorted(build.dist_infos(pre)) == ["drain3", "jsonpickle"]
    assert sorted(p.name for p in pre.iterdir()) == [
        "drain3",
        "drain3-0.9.11.dist-info",
        "jsonpickle",
        "jsonpickle-1.5.1.dist-info",
    ]
    assert (core / "typing_extensions.py").read_text() == "core"  # base layer untouched


def test_dropping_never_leaves_the_layer(tmp_path: Path) -> None:
    core, pre = tmp_path / "core", tmp_path / "pre"
    _install(core, "six", "1.17.0", {"six.py": ""})
    _install(pre, "six", "1.17.0", {"six.py": ""})
    outside = tmp_path / "bin" / "six-tool"
    outside.parent.mkdir()
    outside.write_text("keep")
    record = pre / "six-1.17.0.dist-info" / "RECORD"
    record.write_text(record.read_text() + "../bin/six-tool,,\n")

    build.drop_distributions_in(pre, core)

    assert outside.read_text() == "keep"
    assert not (pre / "six.py").exists()


def test_a_distribution_without_record_or_top_level_is_an_error(tmp_path: Path) -> None:
    core, pre = tmp_path / "core", tmp_path / "pre"
    _install(core, "six", "1.17.0", {"six.py": ""})
    (pre / "six-1.17.0.dist-info").mkdir(parents=True)

    with pytest.raises(build.BuildError, match="RECORD"):
        build.drop_distributions_in(pre, core)


def test_core_pins_constrain_the_preprocessing_resolve(tmp_path: Path) -> None:
    _install(tmp_path, "urllib3", "2.8.0", {"urllib3/__init__.py": ""})

    pins = build.pinned_constraints(tmp_path).splitlines()

    assert pins == ["urllib3==2.8.0", "python-dateutil<3"]


def test_strip_keeps_metadata_and_top_level_tests_modules(tmp_path: Path) -> None:
    _install(
        tmp_path,
        "pkg",
        "1.0",
        {
            "pkg/__init__.py": "",
            "pkg/__init__.pyi": "ab",
            "pkg/__pycache__/__init__.cpython-312.pyc": "ab",
            "pkg/tests/test_pkg.py": "ab",
            "bin/pkg-cli": "ab",
            "tests/__init__.py": "",  # a top-level package that happens to be named tests
        },
    )

    removed = build.strip_tree(tmp_path)

    assert _files(tmp_path) == [
        "pkg-1.0.dist-info/METADATA",
        "pkg-1.0.dist-info/RECORD",
        "pkg/__init__.py",
        "tests/__init__.py",
    ]
    assert removed == 8


def _files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def _package(root: Path, files: dict[str, str]) -> Path:
    package = root / "faultmaven"
    for relative, text in files.items():
        path = package / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return package


def test_imports_of_the_local_runtime_are_found(tmp_path: Path) -> None:
    package = _package(
        tmp_path,
        {
            "__init__.py": "",
            "local/__init__.py": "",
            "local/cli.py": "from faultmaven.app import create_app\n",
            "app.py": "from .local import cli\n",
            "core/__init__.py": "",
            "core/ok.py": "from ..locale import x\nimport faultmaven.localize\n",
            "core/bad.py": "def f():\n    from faultmaven.local.cli import main\n",
        },
    )
    handler = tmp_path / "handler.py"
    handler.write_text("import faultmaven.local\n")

    found = build.local_imports(package, [handler])

    assert found == sorted(
        [
            f"{package / 'app.py'}: faultmaven.local",
            f"{package / 'app.py'}: faultmaven.local.cli",
            f"{package / 'core' / 'bad.py'}: faultmaven.local.cli",
            f"{package / 'core' / 'bad.py'}: faultmaven.local.cli.main",
            f"{handler}: faultmaven.local",
        ]
    )


def test_the_shipped_package_does_not_import_the_local_runtime() -> None:
    package = ROOT / "layers" / "common" / "faultmaven"

    assert build.local_imports(package, sorted((ROOT / "functions").glob("*/*.py"))) == []


def test_the_layer_copy_leaves_out_local_and_caches(tmp_path: Path) -> None:
    package = _package(
        tmp_path / "src",
        {
            "__init__.py": "",
            "py.typed": "",
            "__pycache__/__init__.cpython-311.pyc": "",
            "local/cli.py": "",
            "db/migrations/script.py.mako": "",
        },
    )

    build.copy_package(package, tmp_path / "out" / "faultmaven")

    assert _files(tmp_path / "out") == [
        "faultmaven/__init__.py",
        "faultmaven/db/migrations/script.py.mako",
        "faultmaven/py.typed",
    ]


# --- fingerprint -----------------------------------------------------------------------


def _inputs(tmp_path: Path) -> tuple[Path, Path, Path]:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(PYPROJECT)
    script = tmp_path / "build.py"
    script.write_text("# build\n")
    package = _package(
        tmp_path, {"__init__.py": "", "app.py": "x = 1\n", "local/cli.py": "y = 1\n"}
    )
    return pyproject, package, script


def test_fingerprint_is_stable_for_unchanged_inputs(tmp_path: Path) -> None:
    pyproject, package, script = _inputs(tmp_path)
    options = {"platform": "aarch64", "compiled": True}
    first = build.fingerprint(pyproject, package, script, options)

    (package / "__pycache__").mkdir()
    (package / "__pycache__" / "app.cpython-312.pyc").write_bytes(b"\0")
    (package / "local" / "cli.py").write_text("y = 2\n")  # not shipped

    assert build.fingerprint(pyproject, package, script, dict(options)) == first


@pytest.mark.parametrize("change", ["source", "new_file", "pyproject", "script", "options"])
def test_fingerprint_changes_with_any_input(tmp_path: Path, change: str) -> None:
    pyproject, package, script = _inputs(tmp_path)
    options: dict[str, object] = {"platform": "aarch64", "compiled": True}
    before = build.fingerprint(pyproject, package, script, options)

    if change == "source":
        (package / "app.py").write_text("x = 2\n")
    elif change == "new_file":
        (package / "db").mkdir()
        (package / "db" / "alembic.ini").write_text("[alembic]\n")
    elif change == "pyproject":
        pyproject.write_text(PYPROJECT.replace("<1", "<2"))
    elif change == "script":
        script.write_text("# build v2\n")
    else:
        options["compiled"] = False

    assert build.fingerprint(pyproject, package, script, options) != before


def test_up_to_date_needs_the_manifest_fingerprint_and_every_layer(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text(json.dumps({"fingerprint": "abc"}))
    for layer in build.LAYERS:
        (tmp_path / "layers" / layer / "python").mkdir(parents=True)

    assert build.is_up_to_date(tmp_path, "abc")
    assert not build.is_up_to_date(tmp_path, "abd")
    (tmp_path / "layers" / "core" / "python").rmdir()
    assert not build.is_up_to_date(tmp_path, "abc")


# --- size limit ------------------------------------------------------------------------


def test_the_limit_counts_every_layer_and_the_largest_function() -> None:
    check = build.check_size_limit(
        {"core": 200 * MiB, "preprocessing": 30 * MiB, "faultmaven": 10 * MiB},
        {"api_cases": 2 * MiB, "preprocess": 5 * MiB},
    )

    assert check.largest_function == "preprocess"
    assert check.total_bytes == 245 * MiB
    assert check.ok


def test_the_limit_is_250_mib_inclusive() -> None:
    at_limit = build.check_size_limit({"core": 249 * MiB}, {"f": 1 * MiB})
    over = build.check_size_limit({"core": 249 * MiB}, {"f": 1 * MiB + 1})

    assert at_limit.limit_bytes == 262_144_000
    assert at_limit.ok
    assert not over.ok


def test_the_limit_without_functions_counts_the_layers() -> None:
    check = build.check_size_limit({"core": 300 * MiB}, {})

    assert check.largest_function is None
    assert not check.ok


def test_an_unknown_function_gets_core_and_our_package() -> None:
    assert build.layers_for_function("api_reports") == ("core", "faultmaven")
    assert build.layers_for_function("preprocess") == ("core", "preprocessing", "faultmaven")


# --- Python 3.12 -----------------------------------------------------------------------


def test_python312_from_the_environment_wins() -> None:
    looked_up: list[str] = []

    def which(name: str) -> str | None:
        looked_up.append(name)
        return "/usr/bin/python3.12"

    found = build.find_python312(
        {"PYTHON312": "/opt/py312/bin/python"}, probe=lambda _: True, which=which
    )

    assert found == "/opt/py312/bin/python"
    assert looked_up == []


def test_a_python312_setting_that_does_not_run_is_an_error() -> None:
    with pytest.raises(build.BuildError, match="PYTHON312"):
        build.find_python312({"PYTHON312": "/nope/python"}, probe=lambda _: False)


def test_a_failing_shim_on_path_falls_back_to_pyenv(tmp_path: Path) -> None:
    for version in ("3.12.1", "3.12.10", "3.12.9"):
        (tmp_path / version / "bin").mkdir(parents=True)
        (tmp_path / version / "bin" / "python").write_text("")
    shim = "/root/.pyenv/shims/python3.12"

    found = build.find_python312(
        {},
        probe=lambda path: path != shim,
        which=lambda _: shim,
        pyenv_glob=str(tmp_path / "3.12.*" / "bin" / "python"),
    )

    assert found == str(tmp_path / "3.12.10" / "bin" / "python")


def test_no_python312_anywhere_is_none(tmp_path: Path) -> None:
    found = build.find_python312(
        {}, probe=lambda _: False, which=lambda _: None, pyenv_glob=str(tmp_path / "*")
    )

    assert found is None
