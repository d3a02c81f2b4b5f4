"""The package's data flows one way: each module imports only modules below it.

The order is the one the README's layout table gives; a module that imports one above
it (e.g. the library importing an experiment, argparse below ``cli``, or an analysis
module importing the sweep) fails here.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "grokrfm"

# Lowest first. Modules on one line may not import each other (peers).
LAYERS = [
    ["errors"],
    ["runtime", "progress", "tasks", "kernels", "solve", "results", "paper_data"],
    ["symmetry", "agop", "distribute"],
    ["computed_symmetry", "partition", "memory"],
    ["families", "rfm", "network"],
    ["analysis.curves", "analysis.representation", "analysis.orbits"],
    ["analysis.structure", "analysis.stabilizer"],
    ["analysis.measure"],
    ["analysis"],
    ["sweep"],
    ["report"],
    ["experiment", "plotting"],
    ["cli"],
    [""],  # grokrfm/__init__.py: the public API re-exports from anywhere
]
RANK = {name: rank for rank, layer in enumerate(LAYERS) for name in layer}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def grokrfm_imports(path: Path) -> set[str]:
    """The grokrfm modules a file imports (``from grokrfm import x`` counts x)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("grokrfm"):
            base = node.module.removeprefix("grokrfm").lstrip(".")
            for alias in node.names:
                full = f"{base}.{alias.name}".lstrip(".")
                names.add(full if full in RANK else base)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("grokrfm."):
                    names.add(alias.name.removeprefix("grokrfm."))
    return names


FILES = sorted(PACKAGE.rglob("*.py"))


def test_every_module_has_a_layer():
    assert {module_name(f) for f in FILES} == set(RANK)


@pytest.mark.parametrize("path", FILES, ids=[module_name(f) or "grokrfm" for f in FILES])
def test_imports_flow_one_way(path):
    here = module_name(path)
    for name in grokrfm_imports(path):
        assert name in RANK, f"{here} imports unknown module {name}"
        assert RANK[name] < RANK[here], f"{here} imports {name}, which is not below it"


@pytest.mark.parametrize("path", FILES, ids=[module_name(f) or "grokrfm" for f in FILES])
def test_argparse_and_experiments_stay_at_the_top(path):
    here = module_name(path)
    source = path.read_text()
    assert "import experiments" not in source and "from experiments" not in source
    if here != "cli":
        assert "import argparse" not in source, f"{here} parses arguments; only cli does"
    if here not in ("plotting", ""):
        assert "matplotlib" not in source, f"{here} imports matplotlib"
