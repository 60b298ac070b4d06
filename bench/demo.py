"""Benchmark: time and peak memory of ``unitscope demo`` and of each study at small scale.

Each study runs in a fresh process so its peak memory (max RSS) is its own. Prints a table
and the demo's findings (each claim, its verdict and key numbers). Never part of the tests.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from unitscope.studies import NAMES

CHILD = """
import json, resource, sys, time
from unitscope.studies import get
start = time.perf_counter()
result = get(sys.argv[1]).run("small")
print(json.dumps({"seconds": time.perf_counter() - start,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "findings": len(result.findings), "failures": result.failures}))
"""


def run_study(name: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, name], capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


DEMO = """
import resource, sys
from unitscope.cli import main
try:
    main(["demo", "--out", sys.argv[1], "--json"])
except SystemExit:
    pass
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, file=sys.stderr)
"""


def run_demo(out: Path) -> tuple[float, float, dict]:
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", DEMO, str(out)], capture_output=True, text=True, check=True
    )
    seconds = time.perf_counter() - start
    peak = float(done.stderr.strip().splitlines()[-1])
    return seconds, peak, json.loads(done.stdout)


def main() -> None:
    rows = [(name, run_study(name)) for name in NAMES]
    print(f"{'study (small scale)':<22} {'time (s)':>9} {'peak RSS (MB)':>14} {'findings':>9}")
    for name, r in rows:
        print(
            f"{name:<22} {r['seconds']:>9.1f} {r['peak_mb']:>14.0f} {r['findings']:>9}"
            + (f"  FAILED: {r['failures']}" if r["failures"] else "")
        )
    with tempfile.TemporaryDirectory() as tmp:
        seconds, peak, summary = run_demo(Path(tmp) / "demo")
        size = summary["report"]["bytes"] / 1e6
    print(
        f"{'unitscope demo':<22} {seconds:>9.1f} {peak:>14.0f}   (report {size:.1f} MB, "
        f"budget 180 s)"
    )
    print("\nfindings of the demo:")
    for study in summary["studies"]:
        for f in study["findings"]:
            print(f"  [{study['name']}] {f['verdict'].upper():<12} {f['claim']}")
            print(f"  {'':<14}{f['summary']}")


if __name__ == "__main__":
    main()
