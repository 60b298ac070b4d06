"""Run one study and split its time into sections; prints one JSON line. Used by
``bench/demo.py --profile`` (one fresh process per study):

    python bench/_profile.py STUDY SCALE

The trainer's own stopwatch (``unitscope._timing``) splits every ``fit`` into
training steps (forward, backward, optimizer), recording (weights and activations at the
checkpoints) and evaluation (loss and accuracy curves); the rest of ``fit`` is set-up (data,
initialization, assembling the Recording). Every public function of ``unitscope.measures``
counts as measures, of ``unitscope.match`` as matching and of ``unitscope.views`` as figures,
wherever a study calls it from. What is left is the study's own code (statistics, verdicts,
figure specs). Sections nest; time goes to the innermost one, so nothing counts twice.
"""

from __future__ import annotations

import importlib
import inspect
import json
import resource
import sys
import time

SECTIONS = {  # section -> where its time is measured
    "train": "training steps: forward, backward, optimizer (trainer stopwatch)",
    "record": "weights and activations at the checkpoints (trainer stopwatch)",
    "evaluate": "loss and accuracy curves (trainer stopwatch)",
    "fit setup": "the rest of fit: data, init, the Recording",
    "measures": "unitscope.measures, called from anywhere",
    "matching": "unitscope.match, called from anywhere: aligning networks, the lines "
    "between them, stitching",
    "figures": "unitscope.views, called from anywhere",
    "study": "the study's own code: statistics, verdicts, figure specs",
}
WRAPPED = {
    "unitscope.measures": "measures",
    "unitscope.match": "matching",
    "unitscope.views": "figures",
}


def instrument() -> int:
    """Wrap the public functions of WRAPPED's packages and ``unitscope.train.fit`` in timed
    sections, in the packages and in every other loaded unitscope module that imported them
    by name. Returns the number of functions wrapped."""
    from unitscope import _timing

    targets: dict[int, tuple[object, object]] = {}  # id(original) -> (original, wrapper)
    packages = {**WRAPPED, "unitscope.train": "fit setup"}
    for package, name in packages.items():
        module = importlib.import_module(package)
        public = ["fit"] if package == "unitscope.train" else getattr(module, "__all__", [])
        for attr in public:
            fn = getattr(module, attr, None)
            if inspect.isfunction(fn) and not hasattr(fn, "__wrapped_by_timing__"):
                wrapper = _timing.timed(name, fn)
                targets[id(fn)] = (fn, wrapper)
                setattr(module, attr, wrapper)
    for mod_name, module in list(sys.modules.items()):
        if not mod_name.startswith("unitscope.") or module is None:
            continue
        own = next((p for p in packages if mod_name.startswith(p + ".")), None)
        for attr, value in list(vars(module).items()):
            hit = targets.get(id(value))
            if hit is not None and hit[0] is value and own is None:
                setattr(module, attr, hit[1])
    return len(targets)


def main(study: str, scale: str) -> None:
    from unitscope import _timing
    from unitscope.studies import get

    module = get(study)  # import the study (and what it imports) before wrapping
    instrument()
    _timing.enable()
    wall0, cpu0 = time.perf_counter(), time.process_time()
    with _timing.section("study"):
        result = module.run(scale)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    split = _timing.totals()
    print(
        json.dumps(
            {
                "seconds": wall,
                "cpu_s": cpu,
                "split": {k: split.get(k, (0.0, 0.0)) for k in SECTIONS},
                "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "findings": [f.to_dict() for f in result.findings],
                "failures": result.failures,
            },
            default=str,
        )
    )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
