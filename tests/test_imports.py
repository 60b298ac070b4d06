"""How the modules of src/unitscope import each other, read from the source with ast.

1. **No cycles at import time.** The imports that run when a module is imported (module level,
   class bodies included; ``if TYPE_CHECKING:`` blocks excluded) form an acyclic graph, with no
   exception. Importing ``a.b.c`` also imports the package ``a.b``, so that edge counts too.
2. **Deferred imports.** Adding the imports made inside functions, the only cycles allowed are
   those in ``DEFERRED_CYCLES``, each with its reason; a new cycle fails, and so does a listed one
   that has gone (keep the list true).
3. **Pipeline order.** A stage imports only from stages to its left in the diagram of
   docs/architecture.md (every import counts, deferred and type-only ones included), except the
   exceptions that page documents: ``train`` builds the ``Recording`` of ``record``, and
   ``sweep`` sits beside the pipeline (it drives ``train``, summarizes with ``measures``, and
   only ``cli`` runs it). The private top-level modules (``_errors``, ``_files``, ...) are the
   shared base every stage may use; they import only each other.
4. **Optional extras are imported lazily**, so every module imports (and its doctests collect)
   without them.
5. **Importing changes nothing**: no files, threads, seeds, warning filters, signal handlers,
   environment variables or output.
6. **The doctests run** in ``make test`` (pytest collects src/unitscope with
   ``--doctest-modules``).
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "unitscope"

# Cycles closed only by imports inside functions: frozenset of modules -> reason.
DEFERRED_CYCLES: dict[frozenset[str], str] = {
    frozenset({"unitscope.models._convert", "unitscope.models._mlp"}): (
        "MLP.from_sequential calls the converter, which builds an MLP"
    ),
    frozenset({"unitscope.record._from_models", "unitscope.record._recording"}): (
        "Recording.from_models is a thin entry to the builder, which returns a Recording"
    ),
    frozenset(
        {"unitscope.match._module", "unitscope.match._permute", "unitscope.match._weights"}
    ): ("permute/weights dispatch an nn.Module to the spec-based versions, which reuse them"),
    frozenset({"unitscope.match._interpolate", "unitscope.match._module_line"}): (
        "interpolate dispatches an nn.Module to module_interpolate, which reuses it"
    ),
    frozenset({"unitscope.match._compare", "unitscope.match._compare_torch"}): (
        "compare dispatches torch modules to compare_torch, which reuses its pieces"
    ),
    frozenset({"unitscope.match._consensus", "unitscope.match._universal"}): (
        "consensus's calibrated threshold uses the rotated null of universal"
    ),
}

# Stage-order violations known today: (importer, imported) -> reason. None at present.
KNOWN_VIOLATIONS: dict[tuple[str, str], str] = {}

# The documented exceptions to "left only" (docs/architecture.md).
EXCEPTIONS = {("train", "record"): "train.fit builds the Recording it returns"}
SWEEP_USES_UP_TO = "measures"  # sweep drives train and summarizes with measures
SWEEP_USED_BY = {"cli"}


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str
    deferred: bool  # inside a function: runs on the call, not at import
    type_only: bool  # under `if TYPE_CHECKING:`: never runs


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}
TREES = {m: ast.parse(p.read_text(), filename=str(p)) for m, p in MODULES.items()}


def _owner(name: str) -> str | None:
    """The longest prefix of ``name`` that is a module of the package."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _targets(module: str, node: ast.Import | ast.ImportFrom) -> Iterator[str]:
    """Modules of the package that ``node`` imports, with their parent packages."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        if node.level:
            here = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
            parent = here.rsplit(".", node.level - 1)[0] if node.level > 1 else here
            base = f"{parent}.{base}" if base else parent
        names = [f"{base}.{alias.name}" for alias in node.names]  # `from p import submodule`
    for name in names:
        owner = _owner(name)
        while owner and owner.startswith("unitscope"):
            yield owner  # importing a.b.c first imports a.b
            owner = owner.rpartition(".")[0]


def _walk(node: ast.AST, deferred: bool, type_only: bool) -> Iterator[tuple[ast.AST, bool, bool]]:
    for child in ast.iter_child_nodes(node):
        yield child, deferred, type_only
        inner = deferred or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
        guarded = type_only or (
            isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test)
        )
        yield from _walk(child, inner, guarded)


def imports() -> list[Import]:
    found = set()
    for module, tree in TREES.items():
        for node, deferred, type_only in _walk(tree, False, False):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for target in _targets(module, node):
                    if not module.startswith(target + ".") and target != module:  # own parents
                        found.add(Import(module, target, deferred, type_only))
    return sorted(found, key=lambda i: (i.importer, i.imported))


IMPORTS = imports()


def cycles(edges: list[Import]) -> list[frozenset[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for e in edges:
        graph[e.importer].add(e.imported)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[frozenset[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(frozenset(component))

    for v in graph:
        if v not in index:
            visit(v)
    return out


def test_the_parser_sees_the_imports_it_should():
    """The graph is not empty by mistake: known edges of each kind are found."""
    edges = {(i.importer, i.imported, i.deferred, i.type_only) for i in IMPORTS}
    assert ("unitscope.measures._cka", "unitscope._errors", False, False) in edges
    assert ("unitscope.measures._cka", "unitscope.measures._validate", False, False) in edges
    assert ("unitscope.sweep._backends", "unitscope.sweep._ray", True, False) in edges
    assert ("unitscope.models._convert", "unitscope.models._mlp", False, True) in edges
    assert ("unitscope.views._cnn", "unitscope.record", False, False) in edges
    assert len(MODULES) > 100 and len(IMPORTS) > 300


def test_cycles_are_found_when_present():
    edge = Import("unitscope.measures._cka", "unitscope.measures._registry", False, False)
    assert cycles([*IMPORTS, edge]) != []  # _registry imports _cka: now a cycle


def test_imports_that_run_at_import_time_are_acyclic():
    runtime = [i for i in IMPORTS if not (i.deferred or i.type_only)]
    found = cycles(runtime)
    assert not found, "import cycles at module level: " + "; ".join(
        " <-> ".join(sorted(c)) for c in found
    )


def test_only_the_listed_cycles_close_through_deferred_imports():
    found = set(cycles([i for i in IMPORTS if not i.type_only]))
    new = [" <-> ".join(sorted(c)) for c in found - set(DEFERRED_CYCLES)]
    gone = [" <-> ".join(sorted(c)) for c in set(DEFERRED_CYCLES) - found]
    assert not new, f"new import cycle(s) through imports inside functions: {new}"
    assert not gone, f"listed cycle(s) no longer exist; remove them from DEFERRED_CYCLES: {gone}"


# ---- pipeline order -------------------------------------------------------------------------


def documented_order() -> list[str]:
    """The stages of the diagram in docs/architecture.md, left to right."""
    text = (ROOT / "docs" / "architecture.md").read_text()
    lines = [line for line in text.splitlines() if "─►" in line]
    assert len(lines) == 1, "docs/architecture.md should draw the pipeline on one line"
    return [stage.strip() for stage in lines[0].split("─►")]


ORDER = documented_order()


def stage(module: str) -> str:
    """A module's stage: a name in ORDER, 'sweep', 'base' (private top level) or 'top'."""
    parts = module.split(".")
    if len(parts) == 1 or parts[1] == "__main__":
        return "top"  # the package root re-exports every stage; __main__ runs the CLI
    return "base" if parts[1].startswith("_") else parts[1]


def allowed(a: str, b: str) -> bool:
    """May a module of stage ``a`` import one of stage ``b``?"""
    if a == b or a == "top" or b == "base":
        return True
    if a == "base" or b == "top":
        return False
    if a == "sweep":
        return ORDER.index(b) <= ORDER.index(SWEEP_USES_UP_TO)
    if b == "sweep":
        return a in SWEEP_USED_BY
    if (b, a) in EXCEPTIONS:
        return False  # an exception goes one way: record imports nothing from train
    return ORDER.index(b) < ORDER.index(a) or (a, b) in EXCEPTIONS


def test_the_documented_pipeline_names_every_stage_of_the_package():
    assert ORDER[0] == "data" and ORDER[-1] == "cli"
    stages = {stage(m) for m in MODULES} - {"base", "top"}
    assert stages == set(ORDER) | {"sweep"}, "a folder of src/unitscope is not in the pipeline"
    assert "sweep" not in ORDER  # beside the pipeline, as the page says


def test_the_order_rule_refuses_what_it_should():
    assert allowed("studies", "measures") and not allowed("measures", "studies")
    assert allowed("train", "record") and not allowed("record", "train")
    assert allowed("sweep", "train") and not allowed("sweep", "report")
    assert allowed("cli", "sweep") and not allowed("studies", "sweep")
    assert allowed("data", "base") and not allowed("base", "data")


def test_each_stage_imports_only_from_stages_to_its_left():
    bad = {
        (i.importer, i.imported)
        for i in IMPORTS
        if not allowed(stage(i.importer), stage(i.imported))
    }
    new = sorted(bad - set(KNOWN_VIOLATIONS))
    assert not new, "imports against the pipeline order of docs/architecture.md: " + ", ".join(
        f"{a} -> {b}" for a, b in new
    )
    gone = sorted(set(KNOWN_VIOLATIONS) - bad)
    assert not gone, f"fixed violations still listed in KNOWN_VIOLATIONS: {gone}"


# ---- optional extras, side effects, doctests -----------------------------------------------


def optional_dependencies() -> set[str]:
    """Import names of the packages in the optional extras (the test tools excepted)."""
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    names = set()
    for extra, requirements in extras.items():
        if extra != "test":
            names |= {re.split(r"[\[<>=!~; ]", r, maxsplit=1)[0] for r in requirements}
    return names


def test_optional_extras_are_imported_only_inside_functions():
    optional = optional_dependencies()
    assert {"ray", "pyarrow"} <= optional
    eager = []
    for module, tree in TREES.items():
        for node, deferred, type_only in _walk(tree, False, False):
            if deferred or type_only or not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module]
            eager += [
                f"{module}: {n}"
                for n in names
                if n and n.split(".")[0] in optional and not getattr(node, "level", 0)
            ]
    assert not eager, f"optional extras imported at module level (import them lazily): {eager}"


_SIDE_EFFECTS = r"""
import ast, contextlib, importlib, io, json, logging, os, random, signal, sys, warnings
from pathlib import Path

import numpy as np
import torch

modules, third_party = json.loads(sys.argv[1]), json.loads(sys.argv[2])
for name in third_party:  # what the package imports from others, imported first: their
    try:                  # own effects (scipy's warning filters, sklearn's env) are not ours
        importlib.import_module(name)
    except ImportError:
        pass


def state():
    return {
        "files in the working directory": sorted(os.listdir(".")),
        "torch threads": torch.get_num_threads(),
        "torch default dtype": str(torch.get_default_dtype()),
        "torch grad mode": torch.is_grad_enabled(),
        "torch RNG": torch.get_rng_state().tolist(),
        "numpy global RNG": np.random.get_state()[1].tolist(),
        "python RNG": repr(random.getstate()),
        "numpy error handling": np.geterr(),
        "numpy print options": repr(np.get_printoptions()),
        "warning filters": repr(warnings.filters),
        "logging": repr((logging.getLogger().handlers, logging.getLogger().level)),
        "signal handlers": repr([signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)]),
        "environment": dict(os.environ),
        "sys.argv": list(sys.argv),
    }


before = state()
out = io.StringIO()
with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
    for name in modules:
        importlib.import_module(name)
after = state()
changed = [key for key in before if before[key] != after[key]]
print(json.dumps({"changed": changed, "printed": out.getvalue()}))
"""


def _third_party() -> list[str]:
    names = set()
    for tree in TREES.values():
        for node, deferred, type_only in _walk(tree, False, False):
            if deferred or type_only:
                continue
            if isinstance(node, ast.Import):
                names |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                names.add(node.module)
    return sorted(n for n in names if not n.startswith("unitscope"))


def test_importing_every_module_changes_nothing(tmp_path):
    modules = [m for m in MODULES if not m.endswith("__main__")]
    proc = subprocess.run(
        [sys.executable, "-c", _SIDE_EFFECTS, json.dumps(modules), json.dumps(_third_party())],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.splitlines()[-1])
    assert result["changed"] == [], f"importing unitscope changed: {result['changed']}"
    assert result["printed"] == ""


def test_make_test_runs_every_doctest_of_the_package():
    options = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert "--doctest-modules" in options["addopts"].split()
    assert "src/unitscope" in options["testpaths"]
    # one mechanism: no test file runs doctests by hand
    by_hand = [
        p.name
        for p in (ROOT / "tests").rglob("test_*.py")
        if p != Path(__file__) and "doctest.testmod" in p.read_text()
    ]
    assert by_hand == [], f"doctests run by hand in {by_hand}; pytest collects them all"
