"""``python -m benchmarks`` (``make bench``): run every benchmark, print a table, rewrite ``benchmarks/RESULTS.md``.

Each benchmark runs in its own interpreter and leaves its figures in
``benchmarks/results/<name>.json``; RESULTS.md is written from all of them,
so ``python -m benchmarks latency`` refreshes one section and keeps the rest
(each section says when it was measured). Benchmarks never fail: a figure
that misses its target is reported as such, and the exit code is 0 unless a
benchmark itself crashed.
"""
from __future__ import annotations

import argparse
import json
import sys
import time

from benchmarks.common import RESULTS_DIR, Figure, child_env, format_figure, log, run_child
from benchmarks.report import SHORT_SOAK, write_results

# In running order, with each one's time limit in seconds; the whole suite takes about 10 minutes
# on the 2-core machine when nothing else runs (the first run also trains and caches seed and mlp).
SUITE = {
    "latency": 300,
    "bulk_predict": 300,
    "time_to_99": 900,
    "overhead": 600,
    "throughput": 400,
    "memory": 600,
    "pendigits": 900,
    "calibration": 300,
    "not_digits": 300,
    "startup_memory": 300,
    "gui_launch": 300,
    "gui_stall": 400,
    "soak": 600,
}
# jax_accuracy is issue 5's GPU run: made for a machine where JAX sees a GPU (see its docstring).
OPTIONAL = {"ablations": 1200, "jax_accuracy": 1200, "novelty_layers": 600}
FULL_SOAK_MINUTES = 10


def run_one(name: str, quick: bool, extra: list[str], timeout: float, stored_as: str | None = None) -> dict:
    out = RESULTS_DIR / f"{stored_as or name}.json"
    tmp = out.with_suffix(".json.tmp")
    args = ["-m", f"benchmarks.{name}", "--json-out", str(tmp), *(["--quick"] if quick else []), *extra]
    command = "python -m benchmarks." + name + (" --quick" if quick else "") + "".join(f" {a}" for a in extra)
    log(f"== {name}: {command}")
    code, stdout, stderr, wall = run_child(args, timeout=timeout, env=child_env())
    sys.stderr.write("".join(line + "\n" for line in stderr.splitlines() if line.startswith("  ")))
    if code != 0 or not tmp.is_file():
        tail = "\n".join(stderr.strip().splitlines()[-5:])
        payload = {"figures": [Figure(name, name, None, note=f"not measured: the benchmark failed (exit {code}): "
                                      f"{tail[-400:]}").to_dict()],
                   "started": time.strftime("%Y-%m-%d %H:%M:%S"), "seconds": round(wall, 1), "failed": True}
    else:
        payload = json.loads(tmp.read_text())
        tmp.unlink()
    payload["command"] = command
    out.write_text(json.dumps(payload, indent=1))
    for f in payload["figures"]:
        log("   " + format_figure(Figure.from_dict(f)))
    return payload


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.strip().splitlines()[0])
    parser.add_argument("names", nargs="*", help=f"benchmarks to run (default: all of {', '.join(SUITE)}; "
                                                 f"also: {', '.join(OPTIONAL)})")
    parser.add_argument("--quick", action="store_true", help="fewer repetitions: a smoke run, not figures to quote")
    parser.add_argument("--soak-minutes", type=float, default=1.5,
                        help="length of the soak run in the suite (default 1.5; the issue's full soak is 10)")
    parser.add_argument("--report-only", action="store_true", help="rewrite RESULTS.md from the stored results")
    opts = parser.parse_args()
    known = {**SUITE, **OPTIONAL}
    unknown = [n for n in opts.names if n not in known]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(known)}")
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    names = [] if opts.report_only else (opts.names or list(SUITE))
    started = time.time()
    failed = False
    for name in names:
        extra = ["--minutes", f"{opts.soak_minutes:g}"] if name == "soak" else []
        # A short soak cannot judge growth; stored apart, it never replaces a full 10-minute result.
        short_soak = name == "soak" and opts.soak_minutes < FULL_SOAK_MINUTES
        payload = run_one(name, opts.quick, extra, known[name] + (opts.soak_minutes * 60 if name == "soak" else 0),
                          stored_as=SHORT_SOAK if short_soak else None)
        failed |= bool(payload.get("failed"))
    command = "python -m benchmarks" + "".join(f" {a}" for a in sys.argv[1:])
    path = write_results(command, time.time() - started if names else None)
    log(f"wrote {path}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
