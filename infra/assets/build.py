"""Build the Lambda layers (arm64, Python 3.12) with pip alone, no Docker.

CDK's PythonLayerVersion bundles in a Docker container, and no Docker engine runs on the
machines that build this project. pip can resolve for another platform when it is told
the target's wheel tags and forbidden to build anything (`--only-binary=:all:`), so the
layers are assembled here and CDK only zips directories (`Code.from_asset`).

Three layers, so the log miner reaches only the function that uses it and our own code
can change without re-uploading 40 MB of dependencies:

    OUT/layers/core/python/           runtime dependencies from pyproject.toml
    OUT/layers/preprocessing/python/  drain3, minus what core ships
    OUT/layers/faultmaven/python/     the faultmaven package (not its local/ runtime)
    OUT/manifest.json                 sizes, platform, compile state, input fingerprint

The `.pyc` files are compiled by a real Python 3.12 with unchecked-hash invalidation: CDK
zips assets with 1980 timestamps, so timestamp-checked `.pyc` would be stale on Lambda and
every cold start would compile its imports again.

Standard library only: it runs before any virtualenv exists (CI, a fresh checkout).
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import glob
import hashlib
import json
import os
import platform as host_platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = ROOT / "pyproject.toml"
PACKAGE_DIR = ROOT / "layers" / "common" / "faultmaven"
FUNCTIONS_DIR = ROOT / "functions"
DEFAULT_OUT = ROOT / "build" / "assets"

PYTHON_VERSION = "3.12"
LAYERS = ("core", "preprocessing", "faultmaven")
# Only the preprocess function imports these; they stay out of every other function.
# detect-secrets is not one of them: redaction (preprocessing/redact.py) uses its patterns
# for everything sent to a language model or recorded in the history, from any function
# (the agent's turns, and whatever calls the model next), so it ships in core.
PREPROCESSING_ONLY = frozenset({"drain3"})
# Published as sdist only: built into a local wheel once (it is pure Python).
SDIST_ONLY = frozenset({"drain3"})
# opensearch-py (if it comes back) pulls python-dateutil 4, which botocore rejects.
ALWAYS_CONSTRAINED = ("python-dateutil<3",)
# The embedded dev runtime: needs pgserver/moto, which Lambda never gets.
EXCLUDED_SUBPACKAGES = frozenset({"local"})
# Lambda's hard limit on a function's code plus its layers, unzipped (250 MiB).
LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024
ALLOW_UNCOMPILED_ENV = "FAULTMAVEN_ALLOW_UNCOMPILED"
PYTHON312_ENV = "PYTHON312"
PYENV_PYTHON312_GLOB = "/root/.pyenv/versions/3.12.*/bin/python"
MANIFEST_VERSION = 1


class BuildError(RuntimeError):
    """A build that cannot go on; the message says what to do about it."""


# --- dependencies -------------------------------------------------------------------

_REQUIREMENT_NAME = re.compile(r"^\s*([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)")


def normalize(name: str) -> str:
    """PEP 503 form, so `Detect_Secrets`, `detect-secrets` and dist-info names compare."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> str:
    match = _REQUIREMENT_NAME.match(requirement)
    if match is None:
        raise BuildError(f"cannot read a distribution name from requirement {requirement!r}")
    return normalize(match.group(1))


@dataclass(frozen=True)
class DependencySplit:
    core: tuple[str, ...]
    preprocessing: tuple[str, ...]


def split_dependencies(pyproject_text: str) -> DependencySplit:
    """The runtime requirements, split by layer; a preprocessing-only name that vanished
    from pyproject is an error so the split cannot silently go stale."""
    data = tomllib.loads(pyproject_text)
    requirements: list[str] = list(data["project"]["dependencies"])
    core = tuple(r for r in requirements if requirement_name(r) not in PREPROCESSING_ONLY)
    preprocessing = tuple(r for r in requirements if requirement_name(r) in PREPROCESSING_ONLY)
    missing = PREPROCESSING_ONLY - {requirement_name(r) for r in preprocessing}
    if missing:
        raise BuildError(
            f"pyproject.toml no longer lists {', '.join(sorted(missing))}: "
            "update PREPROCESSING_ONLY in infra/assets/build.py"
        )
    return DependencySplit(core=core, preprocessing=preprocessing)


def platform_tags(target: str, machine: str | None = None) -> tuple[str, ...]:
    """Both manylinux tags: psycopg-binary ships only 2_28 aarch64 wheels and
    pydantic-core only 2_17 (manylinux2014) ones."""
    if target == "aarch64":
        arch = "aarch64"
    elif target == "host":
        arch = machine or host_platform.machine()
        if arch == "arm64":
            arch = "aarch64"
    else:
        raise BuildError(f"unknown platform {target!r} (aarch64 or host)")
    return (f"manylinux2014_{arch}", f"manylinux_2_28_{arch}")


# --- layer trees -----------------------------------------------------------------------


def dist_infos(site: Path) -> dict[str, Path]:
    """Installed distributions of a --target directory: normalized name → dist-info dir."""
    found: dict[str, Path] = {}
    for entry in sorted(site.glob("*.dist-info")):
        name = entry.name.removesuffix(".dist-info").rsplit("-", 1)[0]
        found[normalize(name)] = entry
    return found


def dist_version(dist_info: Path) -> str:
    return dist_info.name.removesuffix(".dist-info").rsplit("-", 1)[-1]


def _record_paths(site: Path, dist_info: Path) -> list[Path]:
    """The files a distribution installed, from RECORD (or top_level.txt without it)."""
    record = dist_info / "RECORD"
    if record.is_file():
        paths = []
        for line in record.read_text(encoding="utf-8").splitlines():
            relative = line.rsplit(",", 2)[0] if line.count(",") >= 2 else line
            if relative:
                paths.append(site / relative)
        return paths
    top_level = dist_info / "top_level.txt"
    if top_level.is_file():
        paths = []
        for name in top_level.read_text(encoding="utf-8").split():
            # A package dir, a single module, or an extension module (name.cpython-*.so).
            paths += [site / name, site / f"{name}.py", *site.glob(f"{name}.*.so")]
        return paths
    raise BuildError(f"{dist_info}: neither RECORD nor top_level.txt; cannot tell its files")


def _prune_empty_dirs(root: Path) -> None:
    for directory in sorted((p for p in root.rglob("*") if p.is_dir()), reverse=True):
        with contextlib.suppress(OSError):  # not empty: keep it
            directory.rmdir()


def drop_distributions_in(site: Path, base: Path) -> list[str]:
    """Remove from `site` every distribution that `base` already has, by dist-info name:
    a function with both layers then imports one copy (the base layer's) of each."""
    present = dist_infos(base)
    dropped = []
    site_resolved = site.resolve()
    for name, dist_info in dist_infos(site).items():
        if name not in present:
            continue
        for path in _record_paths(site, dist_info):
            resolved = path.resolve()
            if not resolved.is_relative_to(site_resolved) or resolved == site_resolved:
                continue  # RECORD may point at ../../bin; never leave the layer
            if resolved.is_dir():
                shutil.rmtree(resolved)
            elif resolved.exists():
                resolved.unlink()
        shutil.rmtree(dist_info, ignore_errors=True)
        dropped.append(name)
    _prune_empty_dirs(site)
    return dropped


def strip_tree(site: Path) -> int:
    """Delete what Lambda never reads: wheel-shipped `__pycache__`, console scripts
    (`bin/`), type stubs, and `tests` packages nested inside a distribution's package.
    dist-info stays whole: importlib.metadata (pydantic, opentelemetry-style plugin
    lookups, `version()` calls) reads it at run time. Returns the bytes removed."""
    removed = 0
    doomed: list[Path] = []
    bin_dir = site / "bin"
    if bin_dir.is_dir():
        doomed.append(bin_dir)
    for path in site.rglob("*"):
        if path.is_dir() and path.name == "__pycache__":
            doomed.append(path)
        elif path.is_dir() and path.name == "tests" and path.parent != site:
            if not path.parent.name.endswith(".dist-info"):
                doomed.append(path)
        elif path.is_file() and path.suffix == ".pyi":
            doomed.append(path)
    for path in sorted(doomed, key=lambda p: len(p.parts)):
        if not path.exists():
            continue  # inside a directory removed already
        if path.is_dir():
            removed += tree_size(path).bytes
            shutil.rmtree(path)
        else:
            removed += path.stat().st_size
            path.unlink()
    return removed


@dataclass(frozen=True)
class TreeSize:
    bytes: int
    files: int


def tree_size(root: Path, *, skip_dirs: Iterable[str] = ()) -> TreeSize:
    skip = frozenset(skip_dirs)
    total = files = 0
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in skip]
        for filename in filenames:
            path = Path(dirpath, filename)
            if not path.is_symlink():
                total += path.stat().st_size
                files += 1
    return TreeSize(bytes=total, files=files)


def _package_files(package_dir: Path) -> Iterator[Path]:
    """The files of the faultmaven package that ship (sorted, so fingerprints are stable)."""
    for path in sorted(package_dir.rglob("*")):
        relative = path.relative_to(package_dir)
        if relative.parts[0] in EXCLUDED_SUBPACKAGES:
            continue
        if "__pycache__" in relative.parts or path.suffix in {".pyc", ".pyo"}:
            continue
        if path.is_file():
            yield path


def copy_package(package_dir: Path, destination: Path) -> None:
    for source in _package_files(package_dir):
        target = destination / source.relative_to(package_dir)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)


def _imported_modules(tree: ast.Module, module: str, is_package: bool) -> Iterator[str]:
    """Absolute names of every module `tree` imports, relative imports resolved."""
    package_parts = module.split(".") if is_package else module.split(".")[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package_parts[: len(package_parts) - node.level + 1]
                prefix = ".".join(base)
                target = f"{prefix}.{node.module}" if node.module else prefix
            else:
                target = node.module or ""
            yield target
            yield from (f"{target}.{alias.name}" for alias in node.names)


def local_imports(package_dir: Path, extra_files: Iterable[Path] = ()) -> list[str]:
    """Where shipped code imports `faultmaven.local` (which the layer leaves out), as
    `file: module`; it would be an ImportError on Lambda only at the line that runs it."""
    package = package_dir.name
    excluded = tuple(f"{package}.{name}" for name in EXCLUDED_SUBPACKAGES)
    offenders = []
    sources = [p for p in _package_files(package_dir) if p.suffix == ".py"]
    for path in [*sources, *extra_files]:
        if path.is_relative_to(package_dir):
            relative = path.relative_to(package_dir).with_suffix("")
            is_package = relative.name == "__init__"
            parts = relative.parts[:-1] if is_package else relative.parts
            module = ".".join((package, *parts))
        else:
            module, is_package = path.stem, False
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for imported in _imported_modules(tree, module, is_package):
            if imported in excluded or imported.startswith(tuple(f"{e}." for e in excluded)):
                offenders.append(f"{path}: {imported}")
    return sorted(set(offenders))


# --- fingerprint and manifest ----------------------------------------------------------


def fingerprint(
    pyproject: Path, package_dir: Path, script: Path, options: Mapping[str, object]
) -> str:
    """Hash of everything a build depends on, so an unchanged rerun can skip the work.
    Options (platform, compile) are part of it: a host build is not an aarch64 build."""
    digest = hashlib.sha256()

    def feed(label: str, data: bytes) -> None:
        digest.update(label.encode())
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)

    feed("options", json.dumps(dict(options), sort_keys=True).encode())
    feed("pyproject", pyproject.read_bytes())
    feed("script", script.read_bytes())
    for path in _package_files(package_dir):
        feed(f"package:{path.relative_to(package_dir).as_posix()}", path.read_bytes())
    return digest.hexdigest()


def read_manifest(out: Path) -> dict[str, Any] | None:
    try:
        manifest: dict[str, Any] = json.loads((out / "manifest.json").read_text())
    except (OSError, ValueError):
        return None
    return manifest


def is_up_to_date(out: Path, expected_fingerprint: str) -> bool:
    manifest = read_manifest(out)
    if manifest is None or manifest.get("fingerprint") != expected_fingerprint:
        return False
    return all((out / "layers" / layer / "python").is_dir() for layer in LAYERS)


# --- size limit ------------------------------------------------------------------------


def function_asset_sizes(functions_dir: Path = FUNCTIONS_DIR) -> dict[str, TreeSize]:
    """What CDK uploads per function: its directory without bytecode caches."""
    return {
        entry.name: tree_size(entry, skip_dirs=("__pycache__",))
        for entry in sorted(functions_dir.iterdir())
        if entry.is_dir() and not entry.name.startswith((".", "_"))
    }


def layers_for_function(name: str) -> tuple[str, ...]:
    """Only `preprocess` needs drain3; any other function, including one added after
    this was written, gets the shared dependencies and our package."""
    if name == "preprocess":
        return ("core", "preprocessing", "faultmaven")
    return ("core", "faultmaven")


@dataclass(frozen=True)
class LimitCheck:
    layers_bytes: int
    largest_function: str | None
    function_bytes: int
    limit_bytes: int

    @property
    def total_bytes(self) -> int:
        return self.layers_bytes + self.function_bytes

    @property
    def ok(self) -> bool:
        return self.total_bytes <= self.limit_bytes


def check_size_limit(
    layer_bytes: Mapping[str, int],
    function_bytes: Mapping[str, int],
    limit_bytes: int = LAMBDA_UNZIPPED_LIMIT,
) -> LimitCheck:
    """Worst case on purpose: every layer plus the biggest function, so a function that
    later takes another layer cannot cross Lambda's limit unnoticed."""
    largest = max(function_bytes, key=lambda name: function_bytes[name], default=None)
    return LimitCheck(
        layers_bytes=sum(layer_bytes.values()),
        largest_function=largest,
        function_bytes=function_bytes[largest] if largest is not None else 0,
        limit_bytes=limit_bytes,
    )


def mib(size: int) -> str:
    """Binary megabytes: Lambda's "250 MB" is 250 MiB (262,144,000 bytes)."""
    return f"{size / 2**20:.1f} MiB"


def print_limit(check: LimitCheck, layer_sizes: Mapping[str, int]) -> None:
    for name, size in layer_sizes.items():
        print(f"  layer {name:14} {mib(size):>10}")
    print(f"  largest function {check.largest_function or '-':9} {mib(check.function_bytes):>10}")
    verdict = "ok" if check.ok else "OVER THE LIMIT"
    print(
        f"  total unzipped {mib(check.total_bytes):>15} of {mib(check.limit_bytes)} "
        f"(Lambda limit): {verdict}"
    )


# --- Python 3.12 -----------------------------------------------------------------------


def runs_python312(executable: str) -> bool:
    """True if `executable` starts and is 3.12 (a pyenv shim may exist and still fail)."""
    try:
        completed = subprocess.run(  # noqa: S603 - the operator's chosen interpreter
            [executable, "-c", "import sys; sys.exit(sys.version_info[:2] != (3, 12))"],
            capture_output=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return completed.returncode == 0


def find_python312(
    environ: Mapping[str, str] | None = None,
    *,
    probe: Callable[[str], bool] = runs_python312,
    which: Callable[[str], str | None] = shutil.which,
    pyenv_glob: str = PYENV_PYTHON312_GLOB,
) -> str | None:
    """The interpreter that compiles the layers: PYTHON312 if set (and then it must
    work: an explicit choice that fails is an error, not a cue to guess), else
    `python3.12` on PATH, else the newest pyenv 3.12."""
    environ = os.environ if environ is None else environ
    explicit = environ.get(PYTHON312_ENV)
    if explicit:
        if not probe(explicit):
            raise BuildError(f"{PYTHON312_ENV}={explicit} does not run as Python 3.12")
        return explicit
    on_path = which("python3.12")
    if on_path and probe(on_path):
        return on_path
    for candidate in sorted(glob.glob(pyenv_glob), key=_version_key, reverse=True):
        if probe(candidate):
            return candidate
    return None


def _version_key(path: str) -> tuple[int, ...]:
    match = re.search(r"3\.12\.(\d+)", path)
    return (int(match.group(1)),) if match else (-1,)


def python_version_of(executable: str) -> str:
    completed = subprocess.run(  # noqa: S603 - the interpreter find_python312 vetted
        [executable, "-c", "import platform; print(platform.python_version())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return completed.stdout.strip()


# Where Lambda mounts layers; the path compiled into every .pyc (tracebacks show it).
LAMBDA_LAYER_PYTHON = "/opt/python"


def compile_tree(python: str, directory: Path) -> None:
    """Compile in place, recording /opt/python/... as each file's path instead of the
    random staging dir: the bytes then repeat from build to build, so CDK's content hash
    (and the layer version) only changes when the code does."""
    completed = subprocess.run(  # noqa: S603 - the interpreter find_python312 vetted
        [
            python,
            "-m",
            "compileall",
            "-q",
            "--invalidation-mode",
            "unchecked-hash",
            "-j",
            "0",
            "-s",
            str(directory),
            "-p",
            LAMBDA_LAYER_PYTHON,
            str(directory),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise BuildError(
            f"compileall failed in {directory}:\n"
            f"{completed.stdout[-3000:]}{completed.stderr[-3000:]}"
        )


# --- pip -------------------------------------------------------------------------------


def _pip(args: Sequence[str]) -> None:
    command = [sys.executable, "-m", "pip", "--disable-pip-version-check", *args]
    print("  $ " + " ".join(command[2:]), flush=True)
    completed = subprocess.run(  # noqa: S603 - our own interpreter's pip
        command, capture_output=True, text=True, check=False
    )
    if completed.returncode != 0:
        raise BuildError(
            f"pip failed ({completed.returncode}):\n{completed.stdout[-4000:]}"
            f"{completed.stderr[-4000:]}"
        )


def build_sdist_wheels(requirements: Iterable[str], wheels: Path) -> None:
    """Pure-Python wheels for sdist-only requirements, kept in `wheels` across builds
    (pip finds an existing one through --find-links and skips the build)."""
    wheels.mkdir(parents=True, exist_ok=True)
    chosen = [r for r in requirements if requirement_name(r) in SDIST_ONLY]
    if chosen:
        _pip(
            [
                "wheel",
                "--quiet",
                "--no-deps",
                "-w",
                str(wheels),
                "--find-links",
                str(wheels),
                *chosen,
            ]
        )


def pip_install(
    target: Path,
    requirements: Sequence[str],
    *,
    tags: Sequence[str],
    wheels: Path,
    constraints: Path,
) -> None:
    platform_args = [arg for tag in tags for arg in ("--platform", tag)]
    _pip(
        [
            "install",
            "--quiet",
            "--no-compile",
            "--target",
            str(target),
            *platform_args,
            "--implementation",
            "cp",
            "--python-version",
            PYTHON_VERSION,
            "--only-binary=:all:",
            "--find-links",
            str(wheels),
            "--constraint",
            str(constraints),
            *requirements,
        ]
    )


def pinned_constraints(site: Path) -> str:
    """`name==version` of everything in `site`: the preprocessing layer resolves against
    exactly what core ships, so dropping the overlap cannot swap a version under it."""
    lines = [f"{name}=={dist_version(info)}" for name, info in dist_infos(site).items()]
    return "\n".join([*lines, *ALWAYS_CONSTRAINED]) + "\n"


# --- the build -------------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    out: Path
    platform: str
    compile: bool
    force: bool


def _staging_prefix(out: Path) -> str:
    return f".{out.name}-staging-"


def _remove_stale_staging(out: Path) -> None:
    """Staging dirs left by a killed build (their pid is gone); a live one is left be."""
    for stale in out.parent.glob(_staging_prefix(out) + "*"):
        pid_text = stale.name.removeprefix(_staging_prefix(out)).split("-", 1)[0]
        if pid_text.isdigit():
            try:
                os.kill(int(pid_text), 0)
                continue
            except ProcessLookupError:
                pass
            except PermissionError:
                continue
        shutil.rmtree(stale, ignore_errors=True)


def _install_into_place(staging: Path, out: Path, manifest: Mapping[str, Any]) -> None:
    """Swap the finished layers in; the manifest goes last, so a build interrupted
    anywhere leaves either the old build or no valid manifest (and the next run rebuilds)."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "manifest.json").unlink(missing_ok=True)
    old = staging / "old-layers"
    if (out / "layers").exists():
        os.replace(out / "layers", old)
    os.replace(staging / "layers", out / "layers")
    shutil.rmtree(old, ignore_errors=True)
    partial = out / "manifest.json.tmp"
    partial.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    os.replace(partial, out / "manifest.json")


def _resolve_compiler(options: Options) -> str | None:
    if not options.compile:
        return None
    python = find_python312()
    if python is not None:
        return python
    if os.environ.get(ALLOW_UNCOMPILED_ENV) == "1":
        print(f"warning: no Python 3.12 found; building without .pyc ({ALLOW_UNCOMPILED_ENV}=1)")
        return None
    raise BuildError(
        "no Python 3.12 to compile the layers with (Lambda ignores .pyc from another "
        f"version). Set {PYTHON312_ENV}=/path/to/python3.12, or build uncompiled with "
        f"--no-compile or {ALLOW_UNCOMPILED_ENV}=1 (slower cold starts)."
    )


def build(options: Options) -> int:
    started = time.monotonic()
    out = options.out.resolve()
    tags = platform_tags(options.platform)
    # Before the fingerprint: an uncompiled fallback build must not pass for a compiled one.
    compiler = _resolve_compiler(options)
    inputs_fingerprint = fingerprint(
        PYPROJECT,
        PACKAGE_DIR,
        Path(__file__).resolve(),
        {"platform": options.platform, "tags": list(tags), "compiled": compiler is not None},
    )
    functions = {name: size.bytes for name, size in function_asset_sizes().items()}
    if not options.force and is_up_to_date(out, inputs_fingerprint):
        manifest = read_manifest(out) or {}
        layer_sizes = {name: info["bytes"] for name, info in manifest["layers"].items()}
        print(f"{out}: up to date (fingerprint {inputs_fingerprint[:12]})")
        check = check_size_limit(layer_sizes, functions)
        print_limit(check, layer_sizes)
        return 0 if check.ok else 2

    offenders = local_imports(PACKAGE_DIR, sorted(FUNCTIONS_DIR.glob("*/*.py")))
    if offenders:
        raise BuildError(
            "shipped code imports faultmaven.local, which the layer leaves out:\n  "
            + "\n  ".join(offenders)
        )
    split = split_dependencies(PYPROJECT.read_text(encoding="utf-8"))
    out.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_staging(out)
    wheels = out.parent / f".{out.name}-wheels"
    staging = Path(tempfile.mkdtemp(prefix=f"{_staging_prefix(out)}{os.getpid()}-", dir=out.parent))
    try:
        sites = {layer: staging / "layers" / layer / "python" for layer in LAYERS}
        print(f"building {options.platform} ({', '.join(tags)}) in {staging}", flush=True)
        build_sdist_wheels(split.preprocessing, wheels)
        base_constraints = staging / "constraints-base.txt"
        base_constraints.write_text("\n".join(ALWAYS_CONSTRAINED) + "\n")
        pip_install(
            sites["core"], split.core, tags=tags, wheels=wheels, constraints=base_constraints
        )
        core_pins = staging / "constraints-core.txt"
        core_pins.write_text(pinned_constraints(sites["core"]))
        pip_install(
            sites["preprocessing"],
            split.preprocessing,
            tags=tags,
            wheels=wheels,
            constraints=core_pins,
        )
        dropped = drop_distributions_in(sites["preprocessing"], sites["core"])
        print(f"  preprocessing: dropped {len(dropped)} distributions core already ships")
        copy_package(PACKAGE_DIR, sites["faultmaven"] / PACKAGE_DIR.name)
        stripped = sum(strip_tree(sites[layer]) for layer in ("core", "preprocessing"))
        print(f"  stripped {mib(stripped)} (caches, scripts, stubs, tests)")
        compile_python = None
        if compiler is not None:
            compile_python = f"{compiler} ({python_version_of(compiler)})"
            print(f"  compiling with {compile_python}", flush=True)
            for layer in LAYERS:
                compile_tree(compiler, sites[layer])
        layers_info: dict[str, Any] = {}
        for layer in LAYERS:
            size = tree_size(sites[layer])
            layers_info[layer] = {
                "bytes": size.bytes,
                "files": size.files,
                "distributions": [
                    f"{name}=={dist_version(info)}"
                    for name, info in dist_infos(sites[layer]).items()
                ],
            }
        layer_sizes = {layer: info["bytes"] for layer, info in layers_info.items()}
        check = check_size_limit(layer_sizes, functions)
        manifest = {
            "manifest_version": MANIFEST_VERSION,
            "fingerprint": inputs_fingerprint,
            "platform": options.platform,
            "platform_tags": list(tags),
            "python_version": PYTHON_VERSION,
            "compiled": compiler is not None,
            "compile_python": compile_python,
            "invalidation_mode": "unchecked-hash" if compiler is not None else None,
            "layers": layers_info,
            "preprocessing_dropped": dropped,
            "limit": {
                "limit_bytes": check.limit_bytes,
                "largest_function": check.largest_function,
                "largest_function_bytes": check.function_bytes,
                "total_bytes": check.total_bytes,
                "ok": check.ok,
            },
            "build_seconds": round(time.monotonic() - started, 1),
        }
        _install_into_place(staging, out, manifest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    compiled = "compiled" if compiler is not None else "NOT compiled"
    print(f"{out}: built in {time.monotonic() - started:.0f}s, {compiled}")
    print_limit(check, layer_sizes)
    return 0 if check.ok else 2


def parse_args(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--platform", choices=("aarch64", "host"), default="aarch64")
    parser.add_argument("--no-compile", action="store_true", help="ship no .pyc")
    parser.add_argument("--force", action="store_true", help="rebuild even if up to date")
    args = parser.parse_args(argv)
    return Options(
        out=args.out, platform=args.platform, compile=not args.no_compile, force=args.force
    )


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return build(parse_args(argv))
    except BuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
