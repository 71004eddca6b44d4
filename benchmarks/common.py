"""What every benchmark shares: figures, statistics, the machine, data, cached models, child processes.

A benchmark module exposes ``run(opts) -> list[Figure]`` and ends with
``main(run, __doc__)`` so that ``python -m benchmarks.<name>`` runs it alone.
``python -m benchmarks`` runs each module in its own interpreter (TensorFlow
state, thread pools and peak memory never leak from one benchmark into the
next) and collects the figures it writes as JSON.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
BENCH_DIR = REPO / "benchmarks"
CACHE = BENCH_DIR / ".cache"  # models trained for benchmarks; ignored by git
RESULTS_DIR = BENCH_DIR / "results"  # the last figures of each benchmark, as JSON, kept in git
# The yardstick for drawn digits. Benchmarks may read the shared data folder; the product never does.
PENDIGITS = REPO.parent / "shared" / "data" / "pendigits-writers-01-30.jsonl"
BUNDLED_MODEL = REPO / "assets" / "model.keras"


@dataclass
class Figure:
    """One measured figure: a median, its spread, and how it compares with its target."""

    key: str  # stable identifier, used to compare runs
    label: str
    value: float | None  # the median; None: not measured
    unit: str = ""
    spread: tuple[float, float] | None = None  # (min, max) of the repetitions, or a percentile range
    spread_kind: str = "min-max"
    n: int = 1
    target: str = ""  # in words, as in issue 5
    met: bool | None = None  # None: no target, or not measured
    note: str = ""
    samples: list[float] = field(default_factory=list)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["spread"] = list(self.spread) if self.spread is not None else None
        return d

    @staticmethod
    def from_dict(d: dict) -> Figure:
        d = dict(d)
        if d.get("spread") is not None:
            d["spread"] = tuple(d["spread"])
        return Figure(**d)


def fig_from_samples(key: str, label: str, samples: Sequence[float], unit: str, *, target: str = "",
                     limit: float | None = None, higher_is_better: bool = False, note: str = "",
                     spread: str = "min-max") -> Figure:
    """A figure from repeated measurements: the median, and min-max (or p1-p99) as the spread."""
    xs = [float(x) for x in samples if x is not None and np.isfinite(x)]
    if not xs:
        return Figure(key, label, None, unit, target=target, note=note or "not measured")
    arr = np.asarray(xs)
    med = float(np.median(arr))
    if spread == "p1-p99":
        lo, hi = float(np.percentile(arr, 1)), float(np.percentile(arr, 99))
    else:
        lo, hi = float(arr.min()), float(arr.max())
    met = None
    if limit is not None:
        met = med >= limit if higher_is_better else med <= limit
    return Figure(key, label, med, unit, (lo, hi), spread, len(xs), target, met, note,
                  [round(x, 6) for x in xs] if len(xs) <= 50 else [])


def not_measured(key: str, label: str, why: str, target: str = "", unit: str = "") -> Figure:
    return Figure(key, label, None, unit, target=target, met=None, note=f"not measured: {why}")


def percentile(xs: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(xs, dtype=float), q))


# Machine and versions --------------------------------------------------------------------------------

def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _cpu_flags() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                wanted = ["avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16"]
                return " ".join(f for f in wanted if f in flags)
    except OSError:
        pass
    return ""


def _mem_total_gb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return None


def _version(module: str) -> str:
    from importlib import metadata

    names = {"PySide6": ["PySide6-Essentials", "PySide6"], "PIL": ["pillow"]}.get(module, [module])
    for name in names:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return "not installed"


def _git_state() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                              text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return f"{head}{' + uncommitted changes' if dirty else ''}"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def machine_info() -> dict:
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return {
        "cpu": _cpu_model(),
        "cpu_flags": _cpu_flags(),
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "memory_gb": round(_mem_total_gb() or 0, 1),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "keras_backend": os.environ.get("KERAS_BACKEND", "tensorflow"),
        "versions": {m: _version(m) for m in ("numpy", "keras", "tensorflow", "jax", "PySide6", "pyqtgraph",
                                              "PIL")},
        "git": _git_state(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


# Memory -----------------------------------------------------------------------------------------------

def rss_mb(pid: int | str = "self") -> float:
    """Current resident set size in MB, from /proc."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def peak_rss_mb() -> float:
    """This process's peak resident set size in MB (VmHWM; the same as getrusage's ru_maxrss)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# Data and models --------------------------------------------------------------------------------------

_splits = None


def mnist_splits():
    """The app's MNIST splits (bundled file, 5,000 validation images, seed 0), loaded once per process."""
    global _splits
    if _splits is None:
        from model.data import load_splits

        _splits = load_splits(notify=lambda message: None)
    return _splits


def pendigits(limit: int | None = None):
    """The pendigits drawings (list of ``model.strokes.Drawing``), or None when the file is missing."""
    if not PENDIGITS.is_file():
        return None
    from model.strokes import read_drawings

    drawings = read_drawings(str(PENDIGITS))
    return drawings[:limit] if limit else drawings


def recipe_key(arch: str) -> str:
    """What a cached model depends on: the architecture's recipe and parameter count, and Keras's version."""
    from model import architectures

    a = architectures.get(arch)
    text = json.dumps([arch, a.params, asdict(a.recipe), _version("keras")], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def bundled_model_info() -> dict | None:
    """The bundled model's metadata, or None when there is no bundled model."""
    if not BUNDLED_MODEL.is_file():
        return None
    import zipfile

    try:
        with zipfile.ZipFile(BUNDLED_MODEL) as archive:
            return json.loads(archive.read("digits.json"))
    except (KeyError, OSError, ValueError, zipfile.BadZipFile):
        return {}


def recipe_model(arch: str, *, train_if_missing: bool = True, log: Callable[[str], None] = print):
    """A model of ``arch`` trained with its own recipe (seed 0) on the app's MNIST splits, cached on disk.

    ``best`` takes many CPU minutes, so for it the bundled model (trained with
    the same recipe) is used when there is one. Returns ``(LoadedModel, how)``
    or ``(None, reason)``.
    """
    from model.modelio import load_model, new_metadata, save_model

    if arch == "best":
        info = bundled_model_info()
        if info is not None and info.get("arch") == "best":
            return load_model(BUNDLED_MODEL), "the bundled model (best, its recipe)"
    path = CACHE / "models" / f"{arch}-{recipe_key(arch)}.keras"
    if path.is_file():
        loaded = load_model(path)
        if loaded.novelty is None:  # cached before models kept "not a digit" statistics: fit them as train() would
            from model.novelty import attach_to_file

            attach_to_file(path, mnist_splits())
            loaded = load_model(path)
        return loaded, f"cached {path.relative_to(REPO)}"
    if not train_if_missing or arch == "best":
        return None, "no trained model (best trains for many minutes; it is taken from assets/model.keras)"
    from model.training import TrainConfig, train

    log(f"  training {arch} with its recipe for the benchmark cache ...")
    result = train(TrainConfig(arch=arch, seed=0), mnist_splits())
    path.parent.mkdir(parents=True, exist_ok=True)
    save_model(result.model, path, new_metadata(arch, result.config.to_dict(), result.test_accuracy,
                                                train_seconds=result.train_seconds), result.novelty)
    return load_model(path), f"trained now with its recipe ({result.train_seconds:.0f} s), cached"


# Child processes --------------------------------------------------------------------------------------

def child_env(**extra: str) -> dict:
    """The environment for benchmark child processes: quiet TensorFlow, offscreen Qt, a private user folder."""
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH", "")]))
    if "DIGITS_HOME" not in env:
        # Never let a benchmark change the user's current model or window settings.
        home = Path(tempfile.mkdtemp(prefix="digits-bench-home-"))
        env["DIGITS_HOME"] = str(home)
        env["XDG_CONFIG_HOME"] = str(home / "config")
    env.update(extra)
    return env


def app_env() -> tuple[dict, str | None]:
    """The environment for a child process running the real app, and why it cannot run (None if it can).

    The app starts on the bundled model; where none exists yet (a clone that has not trained
    it), on the cached ``fast`` model, recorded as the child's active model.
    """
    env = child_env()
    if BUNDLED_MODEL.is_file():
        return env, None
    loaded, how = recipe_model("fast", log=log)
    if loaded is None:
        return env, how
    home = Path(env["DIGITS_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    (home / "state.json").write_text(json.dumps({"active_model": str(loaded.path)}))
    return env, None


def run_child(args: list[str], timeout: float, env: dict | None = None) -> tuple[int, str, str, float]:
    """Run ``python args...``; returns (exit code, stdout, stderr, wall seconds)."""
    start = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, *args], cwd=REPO, env=env or child_env(), capture_output=True,
                              text=True, timeout=timeout)
        return proc.returncode, proc.stdout, proc.stderr, time.perf_counter() - start
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        err = exc.stderr.decode() if isinstance(exc.stderr, bytes) else (exc.stderr or "")
        return 124, out, err, time.perf_counter() - start


def last_json_line(text: str) -> dict | None:
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except ValueError:
                continue
    return None


# Running one module -----------------------------------------------------------------------------------

def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main(run: Callable[[argparse.Namespace], list[Figure]], doc: str | None,
         add_arguments: Callable[[argparse.ArgumentParser], None] | None = None) -> None:
    """Entry point of ``python -m benchmarks.<name>``: run, print the figures, write them as JSON."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    parser = argparse.ArgumentParser(description=(doc or "").strip().splitlines()[0] if doc else None)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (a smoke run)")
    parser.add_argument("--json-out", type=Path, help="write the figures here as JSON")
    if add_arguments:
        add_arguments(parser)
    opts = parser.parse_args()
    started = time.time()
    load_before = load_average()
    figures = run(opts)
    payload = {
        "figures": [f.to_dict() for f in figures],
        "started": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started)),
        "seconds": round(time.time() - started, 1),
        "load_average": [load_before, load_average()],
    }
    for f in figures:
        log(format_figure(f))
    if opts.json_out:
        opts.json_out.write_text(json.dumps(payload, indent=1))
    # The figures are written. Skip interpreter finalisation: after Qt and TensorFlow have both
    # run in one process it can crash in a C extension's deallocation (seen in overhead and soak),
    # which would turn a finished benchmark into a failed one.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def format_value(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "%":
        return f"{value:.2f} %"
    if unit in ("x", "ratio"):
        return f"{value:.2f}{'x' if unit == 'x' else ''}"
    if abs(value) >= 1000:
        return f"{value:,.0f} {unit}".strip()
    if abs(value) >= 100:
        return f"{value:.0f} {unit}".strip()
    if abs(value) >= 10:
        return f"{value:.1f} {unit}".strip()
    return f"{value:.2f} {unit}".strip()


def format_spread(f: Figure) -> str:
    if f.spread is None or f.value is None:
        return ""
    lo, hi = f.spread
    kind = "" if f.spread_kind == "min-max" else f" {f.spread_kind}"
    return f"{format_value(lo, f.unit)} – {format_value(hi, f.unit)}{kind}, n={f.n}"


def verdict(f: Figure) -> str:
    if f.met is None:
        return "not measured" if f.value is None else ("—" if not f.target else "see note")
    return "met" if f.met else "NOT MET"


def format_figure(f: Figure) -> str:
    spread = format_spread(f)
    target = f"  [target {f.target}: {verdict(f)}]" if f.target else ""
    note = f"  ({f.note})" if f.note else ""
    return f"{f.label}: {format_value(f.value, f.unit)}{f' ({spread})' if spread else ''}{target}{note}"
