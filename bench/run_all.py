"""Run every benchmark in this folder, one after the other (``make bench``).

Benchmarks print tables; they never assert a time and are never part of the test suite.
Run one alone with ``python bench/NAME.py``.
"""

from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent
ORDER = [
    "ensemble",
    "measures",
    "rebasin_digits",
    "rebasin_resnet",
    "stitch",
    "consensus",
    "report",
    "sweep",
    "demo",
]


def main(names: list[str]) -> None:
    for name in names or ORDER:
        path = HERE / f"{name}.py"
        if not path.exists():
            print(f"== {name}: missing, skipped")
            continue
        spec = importlib.util.spec_from_file_location(f"bench_{name}", path)
        module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
        spec.loader.exec_module(module)  # type: ignore[union-attr]
        print(f"\n== {name} " + "=" * (70 - len(name)), flush=True)
        start = time.perf_counter()
        sys.argv = [str(path)]  # each benchmark parses its own (empty) command line
        module.main()
        print(f"== {name} took {time.perf_counter() - start:.0f} s", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
