"""Writes ``benchmarks/RESULTS.md`` from the stored results of every benchmark and the optimisation log."""
from __future__ import annotations

import importlib
import json
import time
from pathlib import Path

from benchmarks.common import (
    BENCH_DIR,
    RESULTS_DIR,
    Figure,
    format_spread,
    format_value,
    machine_info,
    verdict,
)

TITLES = {
    "time_to_99": "Time to 99.0 % MNIST test accuracy",
    "overhead": "Overhead of the app's training path",
    "throughput": "Training throughput per architecture",
    "latency": "One drawing: preprocessing + prediction",
    "bulk_predict": "3,498 drawings through predict --strokes",
    "memory": "Peak memory while training seed",
    "pendigits": "Accuracy on pendigits through the app's renderer",
    "gui_launch": "Launch to window visible / first prediction",
    "gui_stall": "GUI-thread stalls while training",
    "soak": "Soak: memory while drawing and training",
    "soak_short": "Soak, the suite's short run",
    "not_digits": "Shapes that are not digits",
    "startup_memory": "What loading costs: JAX hidden from TensorFlow, XLA for one drawing",
    "ablations": "Ablations: the effect of each speed change",
    "jax_accuracy": "JAX backend: time to 99.0 % and 99.5 % for fast and best",
}


SHORT_SOAK = "soak_short"


def result_names(names: list[str]) -> list[str]:
    """Stored results in report order: the suite's short soak is kept beside the full one, never over it."""
    return [n for name in names for n in ([name, SHORT_SOAK] if name == "soak" else [name])]


def _doc(name: str) -> str:
    try:
        module = importlib.import_module(f"benchmarks.{'soak' if name == SHORT_SOAK else name}")
    except Exception:  # noqa: BLE001 - a report must still be written
        return ""
    return " ".join((module.__doc__ or "").split())


def _gpu_line(stored: dict) -> str:
    """Whether the issue's GPU runs are in the stored results: only a JAX run whose figures name a GPU counts."""
    notes = [d.get("note", "") for d in stored.get("jax_accuracy", {}).get("figures", [])]
    devices = sorted({n.split("on gpu: ", 1)[1].split(";")[0] for n in notes if "on gpu: " in n})
    if devices:
        return (f"- GPU: the JAX runs (`fast` and `best`, time to 99.0 % and 99.5 %) were measured on "
                f"{', '.join(devices)}: see their section below.")
    return ("- GPU: none on this machine; the issue's GPU runs (`fast` and `best` with `KERAS_BACKEND=jax`, time to "
            "99.0 % and 99.5 %) are **not measured**" + (" (the stored JAX run is not a GPU's)." if notes else "."))


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def write_results(command: str, seconds: float | None) -> Path:
    from benchmarks.__main__ import OPTIONAL, SUITE

    stored = {}
    for name in result_names([*SUITE, *OPTIONAL]):
        path = RESULTS_DIR / f"{name}.json"
        if path.is_file():
            stored[name] = json.loads(path.read_text())
    info = machine_info()
    v = info["versions"]
    lines = [
        "# Benchmark results",
        "",
        "Written by `python -m benchmarks` (`make bench`); do not edit by hand: the optimisation log at the end "
        "comes from `benchmarks/OPTIMISATIONS.md`.",
        "",
        f"- Last command: `{command}`" + (f" ({seconds / 60:.1f} min)" if seconds else ""),
        f"- Written: {time.strftime('%Y-%m-%d %H:%M')}; code: {info['git']}",
        f"- Machine: {info['cpu']}, {info['cores']} cores ({info['usable_cores']} usable), "
        f"{info['memory_gb']} GB RAM, {info['os']}; CPU features: {info['cpu_flags']}",
        f"- Python {info['python']}; numpy {v['numpy']}, keras {v['keras']} (backend {info['keras_backend']}), "
        f"tensorflow {v['tensorflow']}, jax {v['jax']}, PySide6 {v['PySide6']}, pyqtgraph {v['pyqtgraph']}, "
        f"pillow {v['PIL']}",
        _gpu_line(stored),
        "- Medians of repeated runs, spreads as min – max unless the row says otherwise. The load average is "
        "given per benchmark: other work on this 2-core machine slows every timing, so compare ratios measured "
        "in the same run before absolute times.",
        "",
        "## Summary",
        "",
        "| figure | median | spread | target | verdict |",
        "|---|---|---|---|---|",
    ]
    misses = []
    for payload in stored.values():
        for d in payload["figures"]:
            f = Figure.from_dict(d)
            lines.append(f"| {_cell(f.label)} | {format_value(f.value, f.unit)} | {_cell(format_spread(f))} | "
                         f"{_cell(f.target)} | {'**' + verdict(f) + '**' if f.met is False else verdict(f)} |")
            if f.target and (f.met is False or f.value is None):
                what = "not measured" if f.value is None else f"{format_value(f.value, f.unit)}"
                misses.append(f"- **{f.label.strip()}**: {what}, target {f.target}. {f.note}".rstrip())
    lines += ["", "## Targets not met (or not measured)", ""]
    lines += misses or ["Every target is met."]
    lines += ["", "## Details", ""]
    for name, payload in stored.items():
        load = payload.get("load_average")
        load_text = f"; load average before/after {load[0]} / {load[1]}" if load else ""
        lines += [f"### {TITLES.get(name, name)}", "",
                  f"`{payload.get('command', 'python -m benchmarks.' + name)}`, measured {payload.get('started')}, "
                  f"{payload.get('seconds')} s{load_text}.", "", _doc(name), ""]
        for d in payload["figures"]:
            f = Figure.from_dict(d)
            spread = format_spread(f)
            target = f"; target {f.target}: {verdict(f)}" if f.target else ""
            note = f" {f.note.rstrip('.')}." if f.note else ""
            lines.append(f"- {f.label.strip()}: **{format_value(f.value, f.unit)}**"
                         f"{f' ({spread})' if spread else ''}{target}.{note}")
        lines.append("")
    log_file = BENCH_DIR / "OPTIMISATIONS.md"
    if log_file.is_file():
        lines += [log_file.read_text().strip(), ""]
    out = BENCH_DIR / "RESULTS.md"
    out.write_text("\n".join(lines) + "\n")
    return out
