"""Benchmark: time and peak memory of each study and of ``unitscope demo``, with verdicts.

Each study runs in a fresh process so its peak memory (max RSS) is its own. Prints a table
(time, peak memory, findings, verdicts) and every finding of the demo with its headline
intervals, its control and its premise. Never part of the tests.

    python bench/demo.py                  # every study at small scale, then the demo
    python bench/demo.py --scale full     # every study at full scale (the demo is skipped)
    python bench/demo.py --profile        # and split each study's time (bench/_profile.py)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from unitscope.studies import NAMES

PROFILE = Path(__file__).with_name("_profile.py")

CHILD = """
import json, resource, sys, time
from unitscope.studies import get
start = time.perf_counter()
result = get(sys.argv[1]).run(sys.argv[2])
print(json.dumps({"seconds": time.perf_counter() - start,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "findings": [f.to_dict() for f in result.findings],
                  "failures": result.failures}, default=str))
"""

DEMO = """
import resource, sys
from unitscope.cli import main
try:
    main(["demo", "--out", sys.argv[1], "--json"])
except SystemExit:
    pass
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, file=sys.stderr)
"""

SHORT = {"supported": "S", "refuted": "R", "mixed": "M", "inconclusive": "I"}


def run_study(name: str, scale: str, profile: bool = False) -> dict:
    child = [str(PROFILE)] if profile else ["-c", CHILD]
    done = subprocess.run(
        [sys.executable, *child, name, scale], capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1].replace("NaN", "null"))


def print_profile(rows: list[tuple[str, dict]], scale: str, cpu: bool = False) -> None:
    """Each study's time split into sections (wall or CPU seconds; see bench/_profile.py),
    and recording + measures as a share of the study's time (issue 16: at most 15%), then
    with matching (aligning networks, evaluating the lines between them, stitching) too."""
    sections = list(rows[0][1]["split"])
    clock = "cpu" if cpu else "wall"
    print(f"\n{'study (' + scale + ', ' + clock + ' s)':<22} {'wall':>7} {'cpu':>7} ", end="")
    print(" ".join(f"{s:>9}" for s in sections) + f" {'rec+meas':>9} {'+matching':>9}")
    sums = dict.fromkeys(["total", "cpu", *sections], 0.0)
    for name, r in [*rows, ("all studies", None)]:
        if r is None:
            r = {"seconds": sums["total"], "cpu_s": sums["cpu"], "split": {}}
            secs = {s: sums[s] for s in sections}
        else:
            secs = {s: r["split"][s][int(cpu)] for s in sections}
            sums["total"] += r["seconds"]
            sums["cpu"] += r["cpu_s"]
            for s in sections:
                sums[s] += secs[s]
        whole = max(r["cpu_s" if cpu else "seconds"], 1e-9)
        share = (secs["record"] + secs["measures"]) / whole
        more = share + secs["matching"] / whole
        cells = " ".join(f"{secs[s]:>9.1f}" for s in sections)
        print(
            f"{name:<22} {r['seconds']:>7.1f} {r['cpu_s']:>7.1f} {cells} {share:>9.0%} {more:>9.0%}"
        )
    whole = max(sums["cpu" if cpu else "total"], 1e-9)
    cells = " ".join(f"{sums[s] / whole:>9.0%}" for s in sections)
    print(f"{'share of all':<22} {'':>7} {'':>7} {cells}")


def run_demo(out: Path) -> tuple[float, float, dict]:
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", DEMO, str(out)], capture_output=True, text=True, check=True
    )
    seconds = time.perf_counter() - start
    peak = float(done.stderr.strip().splitlines()[-1])
    return seconds, peak, json.loads(done.stdout)


def verdicts(findings: list[dict]) -> str:
    counts = Counter(f["verdict"] for f in findings)
    return " ".join(f"{n}{SHORT[v]}" for v, n in sorted(counts.items()))


def _num(x: object) -> str:
    return "–" if x is None else f"{x:.3g}" if isinstance(x, float) else str(x)


def describe(study: str, f: dict) -> list[str]:
    """A finding as lines: verdict and claim, summary, intervals, control, premise."""
    lines = [f"  [{study}] {f['verdict'].upper():<12} {f['claim']}", f"  {'':<14}{f['summary']}"]
    for name, iv in (f.get("interval") or {}).items():
        lines.append(
            f"  {'':<14}interval {name}: {_num(iv['value'])} [{_num(iv['lo'])}, "
            f"{_num(iv['hi'])}] n={iv['n']} ({iv['method']})"
        )
    control, premise = f.get("control"), f.get("premise")
    if control:
        lines.append(f"  {'':<14}control: {control['verdict']} — {control['what']}")
    if premise:
        holds = "holds" if premise["holds"] else "FAILS"
        lines.append(f"  {'':<14}premise: {holds} — {premise['what']}")
    if f.get("reason"):
        lines.append(f"  {'':<14}({f['measured_verdict']} as measured: {f['reason']})")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=("small", "full"), default="small")
    parser.add_argument("--profile", action="store_true", help="split each study's time")
    parser.add_argument("--studies", nargs="+", choices=NAMES, help="only these (no demo)")
    args = parser.parse_args()
    rows = [(name, run_study(name, args.scale, args.profile)) for name in args.studies or NAMES]
    head = f"study ({args.scale} scale)"
    print(f"{head:<24} {'time (s)':>9} {'peak RSS (MB)':>14} {'findings':>9}  verdicts")
    for name, r in rows:
        print(
            f"{name:<24} {r['seconds']:>9.1f} {r['peak_mb']:>14.0f} {len(r['findings']):>9}  "
            f"{verdicts(r['findings'])}" + (f"  FAILED: {r['failures']}" if r["failures"] else "")
        )
    total = sum(r["seconds"] for _, r in rows)
    print(f"{'all studies':<24} {total:>9.1f}")
    if args.profile:
        print_profile(rows, args.scale, cpu=False)
        print_profile(rows, args.scale, cpu=True)  # what the work costs, however loaded the CPU
    if args.scale == "small" and not args.studies:
        with tempfile.TemporaryDirectory() as tmp:
            seconds, peak, summary = run_demo(Path(tmp) / "demo")
            size = summary["report"]["bytes"] / 1e6
        print(
            f"{'unitscope demo':<24} {seconds:>9.1f} {peak:>14.0f}   (report {size:.1f} MB, "
            f"budget 180 s)"
        )
        found = [(s["name"], f) for s in summary["studies"] for f in s["findings"]]
    else:
        found = [(name, f) for name, r in rows for f in r["findings"]]
    print(f"\nfindings ({args.scale} scale):")
    for study, f in found:
        print("\n".join(describe(study, f)))


if __name__ == "__main__":
    main()
