"""What each Lambda function ships and how fast its handler imports from the layers
(issue #4 §6).

Sizes come from the deployable build (`infra/assets/build.py`, arm64, build/assets):
Lambda refuses more than 250 MiB of code + layers unzipped, and every megabyte is paid
again at each cold start's download, so the figures are printed per layer, per function
asset and per function (code + the layers it gets). Targets: <= 200 MiB per function,
<= 1 MiB per function asset, no embedding model inside a layer.

The cold imports run from a host-platform build of the same layers (arm64 wheels cannot
run here) under Python 3.12, in a fresh interpreter per run, with the layer directories
read-only as on Lambda: once with the shipped unchecked-hash `.pyc`, once with no `.pyc`
at all, which is what Lambda pays when bytecode is missing or stale (CDK's 1980 zip
timestamps make timestamp-checked `.pyc` stale).

Figures are printed, never asserted.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from _support import BENCH_JWT_SECRET, ROOT, clean_env, header, median

REPETITIONS = 5
SUBPROCESS_TIMEOUT_S = 120.0
BUILD_TIMEOUT_S = 1800.0
FUNCTION_TARGET_BYTES = 200 * 2**20
ASSET_TARGET_BYTES = 1 * 2**20
MODEL_SUFFIXES = (".safetensors", ".onnx")
BIG_BIN_BYTES = 10 * 2**20
DEPLOY_OUT = ROOT / "build" / "assets"
BENCH_OUT = ROOT / "build" / "bench-assets"
BUILD_SCRIPT = ROOT / "infra" / "assets" / "build.py"

# The handler connects nowhere at import (engines and clients are lazy); these settings
# only have to validate, and point at a port nothing listens on in case that ever changes.
IMPORT_ENV = {
    "FAULTMAVEN_ENVIRONMENT": "test",
    "DATABASE_URL": "postgresql://bench@127.0.0.1:9/unused",
    "REDIS_URL": "redis://127.0.0.1:9/0",
    "FAULTMAVEN_JWT_SECRET": BENCH_JWT_SECRET,
    "FAULTMAVEN_LOG_LEVEL": "WARNING",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
    "POWERTOOLS_SERVICE_NAME": "faultmaven",
    # Also for the compiled copy: read-only bits do not stop root from writing caches.
    "PYTHONDONTWRITEBYTECODE": "1",
}

# Runs under Python 3.12 with -S (no site-packages: only the layers and the function dir
# are importable, as on Lambda). The clock starts on its first line.
DRIVER = """\
import time
T0 = time.perf_counter()
import importlib
import json
importlib.import_module("handler")
print(json.dumps({"import_s": time.perf_counter() - T0}), flush=True)
"""


def load_build_module() -> ModuleType:
    """infra/assets is not a package; load build.py by path (registered first, as its
    dataclasses look their module up in sys.modules)."""
    spec = importlib.util.spec_from_file_location("faultmaven_asset_build", BUILD_SCRIPT)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot load {BUILD_SCRIPT}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


BUILD = load_build_module()


def mib(size: int) -> str:
    return f"{size / 2**20:8.1f}"


def run_build(args: list[str]) -> tuple[bool, str]:
    """Run build.py (a no-op when up to date); exit 2 means built but over the size
    limit, which still leaves layers to measure."""
    completed = subprocess.run(
        [sys.executable, str(BUILD_SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_S,
        check=False,
    )
    output = (completed.stdout + completed.stderr).strip()
    return completed.returncode in (0, 2), output


def zipped_size(root: Path, arc_prefix: str, work: Path, *, skip_dirs: tuple[str, ...]) -> int:
    archive = work / "size-probe.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zipped:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if d not in skip_dirs)
            for filename in sorted(filenames):
                path = Path(dirpath, filename)
                zipped.write(path, f"{arc_prefix}{path.relative_to(root).as_posix()}")
    size = archive.stat().st_size
    archive.unlink()
    return size


def model_files(layers_dir: Path) -> list[tuple[Path, int]]:
    found = []
    for path in layers_dir.rglob("*"):
        if not path.is_file():
            continue
        size = path.stat().st_size
        if path.suffix in MODEL_SUFFIXES or (path.suffix == ".bin" and size > BIG_BIN_BYTES):
            found.append((path, size))
    return found


def report_sizes(out: Path, work: Path) -> None:
    manifest = BUILD.read_manifest(out) or {}
    compiled = "with .pyc" if manifest.get("compiled") else "WITHOUT .pyc"
    header(f"Lambda assets ({out.relative_to(ROOT)}, {manifest.get('platform')}, {compiled})")
    layers_dir = out / "layers"
    layer_bytes: dict[str, int] = {}
    print(f"{'layer':28} {'unzipped MiB':>12} {'zipped MiB':>11} {'files':>6}")
    for layer in BUILD.LAYERS:
        size = BUILD.tree_size(layers_dir / layer)
        layer_bytes[layer] = size.bytes
        zipped = zipped_size(layers_dir / layer, "", work, skip_dirs=())
        print(f"{layer:28} {mib(size.bytes):>12} {mib(zipped):>11} {size.files:>6}")
    asset_bytes: dict[str, int] = {}
    print(f"\n{'function asset':28} {'unzipped KiB':>12} {'zipped KiB':>11} {'files':>6}")
    for name, size in BUILD.function_asset_sizes().items():
        asset_bytes[name] = size.bytes
        zipped = zipped_size(BUILD.FUNCTIONS_DIR / name, "", work, skip_dirs=("__pycache__",))
        verdict = "ok" if size.bytes <= ASSET_TARGET_BYTES else "OVER 1 MiB"
        print(
            f"{name:28} {size.bytes / 1024:>12.1f} {zipped / 1024:>11.1f} "
            f"{size.files:>6}  {verdict}"
        )

    header("Per function: code + its layers, unzipped (target <= 200 MiB; Lambda max 250)")
    for name, code in asset_bytes.items():
        layers = BUILD.layers_for_function(name)
        total = code + sum(layer_bytes[layer] for layer in layers)
        verdict = "ok" if total <= FUNCTION_TARGET_BYTES else "OVER TARGET"
        print(f"  {name:18} {mib(total)} MiB  ({' + '.join(layers)})  {verdict}")
    worst = BUILD.check_size_limit(layer_bytes, asset_bytes)
    print(
        f"  worst case, all layers + largest function ({worst.largest_function}): "
        f"{mib(worst.total_bytes).strip()} MiB of 250 MiB"
    )

    models = model_files(layers_dir)
    if models:
        print("\nEmbedding model files in layers (keep models out of Lambda layers):")
        for path, size in models:
            print(f"  {path.relative_to(layers_dir)}  {mib(size).strip()} MiB")
    else:
        print("\nEmbedding model files in layers: none (*.safetensors, *.onnx, *.bin > 10 MiB)")


@dataclass
class ImportVariant:
    handler: str
    label: str
    pythonpath: str
    samples: list[float] = field(default_factory=list)


def _make_read_only(root: Path) -> None:
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames]:
            path = Path(dirpath, name)
            if not path.is_symlink():
                path.chmod(path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    root.chmod(root.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def _make_writable(root: Path) -> None:
    """So the tempdir can be removed again (rmtree needs write access to each dir)."""
    if not root.exists():
        return
    root.chmod(root.stat().st_mode | stat.S_IWUSR)
    for dirpath, dirnames, _ in os.walk(root):
        for name in dirnames:
            path = Path(dirpath, name)
            path.chmod(path.stat().st_mode | stat.S_IWUSR)


def _pycache_dirs(root: Path) -> int:
    return sum(1 for _ in root.rglob("__pycache__"))


def prepare_copies(host_out: Path, work: Path) -> dict[str, Path]:
    """Two read-only trees of layers + function code: as built (with .pyc) and with every
    __pycache__ removed. Function code carries no .pyc in either, as CDK ships it."""
    copies = {"with .pyc": work / "compiled", "no .pyc": work / "source"}
    ignore_cache = shutil.ignore_patterns("__pycache__")
    for label, root in copies.items():
        shutil.copytree(
            host_out / "layers",
            root / "layers",
            ignore=None if label == "with .pyc" else ignore_cache,
        )
        shutil.copytree(BUILD.FUNCTIONS_DIR, root / "functions", ignore=ignore_cache)
        _make_read_only(root)
    return copies


def run_import(variant: ImportVariant, python: str, driver: Path) -> float:
    env = clean_env({**IMPORT_ENV, "PYTHONPATH": variant.pythonpath})
    completed = subprocess.run(
        [python, "-S", str(driver)],
        env=env,
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT_S,
        check=False,
        cwd=driver.parent,
    )
    lines = [line for line in completed.stdout.splitlines() if line.startswith("{")]
    if completed.returncode != 0 or not lines:
        raise RuntimeError(
            f"{variant.handler} ({variant.label}): exit {completed.returncode}\n"
            f"{completed.stderr[-3000:]}"
        )
    seconds: float = json.loads(lines[-1])["import_s"]
    return seconds


def measure_cold_imports(work: Path) -> None:
    header(
        f"Cold import of each API handler, Python 3.12, read-only layers (median of "
        f"{REPETITIONS}, fresh process each)"
    )
    try:
        python = BUILD.find_python312()
    except BUILD.BuildError as exc:
        print(f"skipped: {exc}")
        return
    if python is None:
        print("skipped: no Python 3.12 found (set PYTHON312=/path/to/python3.12)")
        return
    host_out = BENCH_OUT / "host"
    built, output = run_build(["--platform", "host", "--out", str(host_out)])
    if not built:
        print(f"skipped: the host-platform build failed:\n{output[-2000:]}")
        return
    manifest = BUILD.read_manifest(host_out) or {}
    if not manifest.get("compiled"):
        print("skipped: the host build carries no .pyc, so there is nothing to compare")
        return
    print(f"interpreter {python}; layers from {host_out.relative_to(ROOT)}")
    handlers = sorted(p.parent.name for p in BUILD.FUNCTIONS_DIR.glob("api_*/handler.py"))
    if not handlers:
        print("skipped: no functions/api_*/handler.py")
        return
    copies = prepare_copies(host_out, work)
    driver = work / "driver.py"
    driver.write_text(DRIVER)
    variants: list[ImportVariant] = []
    for name in handlers:
        for label, root in copies.items():
            paths = [root / "functions" / name] + [
                root / "layers" / layer / "python" for layer in BUILD.layers_for_function(name)
            ]
            variants.append(ImportVariant(name, label, os.pathsep.join(map(str, paths))))
    try:
        # A discarded round warms the page cache so every measured round sees the same disk
        # state; rounds are interleaved so drift hits all variants alike.
        for variant in variants:
            run_import(variant, python, driver)
        for _ in range(REPETITIONS):
            for variant in variants:
                variant.samples.append(run_import(variant, python, driver))
        written = _pycache_dirs(copies["no .pyc"])
    finally:
        for root in copies.values():
            _make_writable(root)
    by_key = {(v.handler, v.label): v for v in variants}
    print(f"{'handler':16} {'with .pyc ms':>13} {'no .pyc ms':>11} {'slower x':>9}")
    for name in handlers:
        compiled = median(by_key[(name, "with .pyc")].samples)
        source = median(by_key[(name, "no .pyc")].samples)
        print(f"{name:16} {compiled * 1000:13.0f} {source * 1000:11.0f} {source / compiled:9.2f}")
    print(
        "import = from the driver's first line to `import handler` done (interpreter start-up "
        "excluded);\nmodule-scope work included (settings, app factory, lazy pools)."
    )
    if written:
        print(f"warning: {written} __pycache__ dirs appeared in the no-.pyc copy")


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="fmbassets"))
    try:
        started = time.monotonic()
        built, output = run_build(["--out", str(DEPLOY_OUT)])
        out = DEPLOY_OUT
        if not built:
            print(f"deploy build failed, measuring an uncompiled one instead:\n{output[-1500:]}")
            out = BENCH_OUT / "aarch64-uncompiled"
            built, output = run_build(["--no-compile", "--out", str(out)])
        if not built:
            print(f"no layers to measure: the build failed:\n{output[-2000:]}")
        else:
            summary = [line for line in output.splitlines() if line.startswith(str(out))]
            print(f"build: {summary[-1] if summary else output[-300:]}")
            print(f"       ({time.monotonic() - started:.0f}s including the up-to-date check)")
            report_sizes(out, work)
        measure_cold_imports(work)
    finally:
        _make_writable(work)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
