"""The benchmark's fresh-process measurements: handler import time (cold start) and peak memory.

Each sample is a new interpreter that puts the function's directory and the layer on sys.path and imports `app`,
as Lambda does. Import times are taken twice: in the project's virtual environment, and with only the packages a
deployed function has (the layer's requirements and boto3) and no site-packages, because the dev environment
holds optional extras botocore picks up when present (awscrt, pyOpenSSL) that make `import boto3` slower there.
Only the standard library is imported at the top: `python -m devtools.bench_process rss ...` is the peak-memory
child, and whatever this module imported would be charged to the handler.
"""

from __future__ import annotations

import compileall
import contextlib
import json
import os
import py_compile
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Final

REPO_ROOT: Final = Path(__file__).resolve().parent.parent
LAYER_DIR: Final = REPO_ROOT / "layers" / "shared"
FUNCTION_DIRS: Final = {
    "webhook": REPO_ROOT / "functions" / "clerk_webhook",
    "stream": REPO_ROOT / "functions" / "connection_stream",
}
CHILD_TIMEOUT_SECONDS: Final = 120
LAYER_REQUIREMENTS: Final = LAYER_DIR / "requirements.txt"
# Provided by the Lambda runtime rather than the layer.
RUNTIME_PROVIDED: Final = ("boto3",)

# Timed inside the child, so interpreter start-up and site processing (the same for every target) are left out.
_IMPORT_PROBE: Final = """\
import sys, time
sys.path[:0] = {paths!r}
started = time.perf_counter()
import {module}
print(time.perf_counter() - started)
"""


def _run_child(arguments: list[str], environment: Mapping[str, str], cwd: Path | str) -> str:
    completed = subprocess.run(  # noqa: S603 - our own interpreter with arguments built here
        [sys.executable, *arguments],
        cwd=cwd,
        env={**os.environ, **environment},
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT_SECONDS,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"benchmark child failed ({completed.returncode}): {completed.stderr[-2000:]}")
    return completed.stdout


def _requirement_closure(names: Iterable[str]) -> list[metadata.Distribution]:
    """The installed distributions `names` need, their dependencies included (no extras)."""
    from packaging.requirements import Requirement  # noqa: PLC0415 - parent side only; the children stay stdlib-only

    pending, seen, found = list(names), set[str](), []
    while pending:
        distribution = metadata.distribution(pending.pop())
        name = distribution.metadata["Name"].lower().replace("_", "-")
        if name in seen:
            continue
        seen.add(name)
        found.append(distribution)
        for requirement in map(Requirement, distribution.requires or []):
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                pending.append(requirement.name)
    return found


def _top_level_entries(distribution: metadata.Distribution) -> list[Path]:
    entries = {file.parts[0] for file in distribution.files or [] if file.parts[0] not in {"..", "__pycache__"}}
    return [path for path in (Path(str(distribution.locate_file(entry))) for entry in sorted(entries)) if path.exists()]


def _copy(source: Path, destination: Path) -> None:
    if source.is_dir():
        shutil.copytree(source, destination / source.name, ignore=shutil.ignore_patterns("__pycache__"))
    else:
        shutil.copy2(source, destination / source.name)


@dataclass(frozen=True)
class ImportSetting:
    """Where a fresh interpreter finds the code, and how it treats bytecode."""

    label: str
    task_dirs: dict[str, Path]
    search_path: tuple[Path, ...]
    flags: tuple[str, ...] = ()
    # Python writes bytecode caches unless told not to; an empty value undoes a PYTHONDONTWRITEBYTECODE of the caller.
    environment: Mapping[str, str] = field(default_factory=lambda: {"PYTHONDONTWRITEBYTECODE": ""})

    def sys_path(self, target: str) -> list[str]:
        # boto3 alone gets the webhook's path: the floor pays the same lookups.
        return [str(self.task_dirs.get(target, self.task_dirs["webhook"])), *map(str, self.search_path)]


def project_setting() -> ImportSetting:
    """The project's virtual environment, the function's directory and the layer first: what the design measured."""
    return ImportSetting("project venv", dict(FUNCTION_DIRS), (LAYER_DIR,))


def deployed_setting(root: Path, *, bytecode: bool) -> ImportSetting:
    """The layout of a deployed function, built from the installed packages.

    Function code, then the layer (its requirements and `social_connections`, copied), then the runtime's boto3
    (linked, with its bytecode), and no site-packages: only what Lambda has. Lambda's code directories are
    read-only (-B here), so code without shipped bytecode is compiled at every cold start: `bytecode=False` is what
    plain `sam build` ships, `bytecode=True` adds the bytecode `make build` compiles into the build output.
    """
    runtime = root / "runtime"
    if not runtime.exists():
        runtime.mkdir(parents=True)
        for distribution in _requirement_closure(RUNTIME_PROVIDED):
            for entry in _top_level_entries(distribution):
                (runtime / entry.name).symlink_to(entry)
    variant = root / ("with-bytecode" if bytecode else "source-only")
    shutil.rmtree(variant, ignore_errors=True)  # fresh copies: no bytecode left from an earlier run
    layer = variant / "opt" / "python"
    layer.mkdir(parents=True)
    for distribution in _requirement_closure(_layer_requirements()):
        for entry in _top_level_entries(distribution):
            _copy(entry, layer)
    _copy(LAYER_DIR / "social_connections", layer)
    task_dirs = {}
    for function, source in FUNCTION_DIRS.items():
        task_dirs[function] = variant / "task" / function
        task_dirs[function].mkdir(parents=True)
        for module in source.glob("*.py"):
            _copy(module, task_dirs[function])
    if bytecode:
        for directory in (layer, *task_dirs.values()):
            # The same invalidation mode as `make build` (in one process: a pool would re-import our caller).
            compileall.compile_dir(directory, quiet=1, invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
    return ImportSetting(
        "deployed, make build (bytecode)" if bytecode else "deployed, plain sam build (no bytecode)",
        task_dirs,
        (layer, runtime),
        ("-S", "-B"),
        {"PYTHONDONTWRITEBYTECODE": "1"},
    )


def _layer_requirements() -> list[str]:
    from packaging.requirements import Requirement  # noqa: PLC0415 - parent side only

    lines = LAYER_REQUIREMENTS.read_text(encoding="utf-8").splitlines()
    return [Requirement(line).name for line in lines if line.strip() and not line.lstrip().startswith("#")]


def _import_seconds(target: str, environment: Mapping[str, str], setting: ImportSetting) -> float:
    """One fresh interpreter importing `app` of a function ('webhook', 'stream'), or boto3 alone ('boto3')."""
    module = "boto3" if target == "boto3" else "app"
    probe = _IMPORT_PROBE.format(paths=setting.sys_path(target), module=module)
    output = _run_child(
        [*setting.flags, "-c", probe], {**environment, **setting.environment}, setting.sys_path(target)[0]
    )
    return float(output.strip().splitlines()[-1])


@dataclass(frozen=True)
class ImportTimes:
    samples_ms: dict[str, list[float]]

    def median_ms(self, target: str) -> float:
        return statistics.median(self.samples_ms[target])

    def ratio(self, target: str) -> float:
        return self.median_ms(target) / self.median_ms("boto3")


def measure_import_times(environment: Mapping[str, str], repetitions: int, setting: ImportSetting) -> ImportTimes:
    """Median import time of each handler and of boto3, runs interleaved so that machine noise hits all alike."""
    targets = ["boto3", *FUNCTION_DIRS]
    if "-B" not in setting.flags:  # a setting that may not write bytecode has nothing to prepare
        for target in targets:
            _import_seconds(target, environment, setting)  # writes the bytecode caches the setting allows
    samples: dict[str, list[float]] = {target: [] for target in targets}
    for _ in range(repetitions):
        for target in targets:
            samples[target].append(round(_import_seconds(target, environment, setting) * 1000, 2))
    return ImportTimes(samples)


@dataclass(frozen=True)
class FreshProcess:
    """A new interpreter that imports a function's `app` and handles one event (DynamoDB replayed)."""

    max_rss_kib: int
    ru_maxrss_kib: int
    import_cpu_ms: float
    # The first event also builds the DynamoDB client, as a container's first invocation does.
    first_event_cpu_ms: float


def measure_fresh_process(
    function: str, event: Mapping[str, Any], responses: list[dict[str, object]], environment: Mapping[str, str]
) -> FreshProcess:
    spec = {
        "function_dir": str(FUNCTION_DIRS[function]),
        "layer_dir": str(LAYER_DIR),
        "event": event,
        "responses": responses,
    }
    with tempfile.TemporaryDirectory(prefix="bench-rss-") as scratch:
        spec_path, result_path = Path(scratch, "spec.json"), Path(scratch, "result.json")
        spec_path.write_text(json.dumps(spec), encoding="utf-8")
        _run_child(["-m", "devtools.bench_process", "rss", str(spec_path), str(result_path)], environment, REPO_ROOT)
        result = json.loads(result_path.read_text(encoding="utf-8"))
    if result.pop("status") not in {None, 200} or result.pop("failures") or not result.pop("replayed_all"):
        raise RuntimeError(f"the {function} handler did not handle its event: {result}")
    return FreshProcess(**result)


def _peak_rss_kib() -> int:
    """This process image's peak RSS: VmHWM where Linux has it, else getrusage's ru_maxrss.

    On Linux ru_maxrss survives fork and exec, so a child of the (large) benchmark process would report the parent's
    peak; VmHWM belongs to the memory map the exec created, i.e. to the handler process alone.
    """
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text(encoding="utf-8").splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])  # "VmHWM:   70312 kB"
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kibibytes on Linux


def _split_for_warm(warm_spec_path: str, app: Any) -> None:
    """Under valgrind, one process serves B1 and B2: a forked child goes on as B1's webhook process (first event,
    result, interpreter shutdown: its count starts from this one's, so it is the fresh process's total), while this
    process, already past `import app`, becomes B2's warm process (devtools/bench_warm.py) and never returns."""
    sys.stdout.flush()
    child = os.fork()
    if child == 0:
        return
    from devtools.bench_warm import run_warm_phases  # noqa: PLC0415 - after the fork: B1's child never loads it

    if not run_warm_phases(json.loads(Path(warm_spec_path).read_text(encoding="utf-8")), app, {"cold_start": child}):
        sys.exit(0)  # a warm phase's child, done: it ends as a fresh process would
    _, status = os.waitpid(child, 0)
    sys.exit(os.waitstatus_to_exitcode(status))


def _peak_rss_child(spec_path: str, result_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    sys.path[:0] = [spec["function_dir"], spec["layer_dir"]]
    started = time.process_time()
    import app  # type: ignore[import-not-found]  # noqa: PLC0415 - the handler module, found as Lambda finds it

    imported = time.process_time()
    if "warm_spec" in spec:
        _split_for_warm(spec["warm_spec"], app)  # returns in the forked child only, which goes on as before

    from social_connections import container  # noqa: PLC0415

    from devtools.bench_replay import RecordedResponse, ResponseReplayer  # noqa: PLC0415
    from devtools.testkit.aws import LambdaContextStub  # noqa: PLC0415

    replayer = ResponseReplayer([RecordedResponse.from_json(item) for item in spec["responses"]])
    before_event = time.process_time()
    replayer.attach(container.current().dynamodb)
    response = app.lambda_handler(spec["event"], LambdaContextStub(function_name="bench"))
    handled = time.process_time()
    result = {
        "max_rss_kib": _peak_rss_kib(),
        "ru_maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "import_cpu_ms": round((imported - started) * 1000, 1),
        "first_event_cpu_ms": round((handled - before_event) * 1000, 1),
        "status": response.get("statusCode"),
        "failures": response.get("batchItemFailures", []),
        "replayed_all": replayer.at_start,
    }
    Path(result_path).write_text(json.dumps(result), encoding="utf-8")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "rss":
        _peak_rss_child(sys.argv[2], sys.argv[3])
    else:
        sys.exit("usage: python -m devtools.bench_process rss SPEC_JSON RESULT_JSON")
