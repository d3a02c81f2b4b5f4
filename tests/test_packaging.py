"""What ``pip install .`` puts on a machine: the wheel carries the library, every experiment
module (so ``python -m experiments.<name>`` runs outside the clone) and the licence, and
nothing that lives only in the clone; CITATION.cff names the version and licence the wheel
declares.

The wheel is built offline from a copy of the clone, with this environment's setuptools
(the build backend ``[build-system]`` names), through the PEP 517 hook pip itself calls.
"""

import ast
import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LIBRARY = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "grokrfm").rglob("*.py"))
EXPERIMENTS = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "experiments").glob("*.py"))
EXPERIMENT_NAMES = [Path(p).stem for p in EXPERIMENTS if not p.endswith("__init__.py")]
# The import names of the runtime dependencies an experiment may use once installed.
DEPENDENCIES = {"jax", "jaxlib", "optax", "chex", "einops", "numpy", "matplotlib"}
PAPER_URL = "https://arxiv.org/abs/2604.00316"
PAPER_TITLE = "Breaking Data Symmetry is Needed For Generalization in Feature Learning Kernels"


def _not_sources(folder: str, names: list[str]) -> set[str]:
    """What the build must not see: VCS data, environments, caches and earlier outputs."""
    if Path(folder) != ROOT:
        return {n for n in names if n == "__pycache__"}
    return {
        n
        for n in names
        if n.startswith(".")
        or n in ("build", "dist", "results")
        or n.endswith(".egg-info")
        or (ROOT / n / "pyvenv.cfg").exists()
    }


def _required_setuptools() -> int:
    match = re.search(r'"setuptools>=(\d+)"', (ROOT / "pyproject.toml").read_text())
    assert match, "pyproject.toml's [build-system] should require setuptools>=N"
    return int(match.group(1))


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel built from a copy of the clone (the clone itself stays untouched)."""
    need = _required_setuptools()
    try:
        have = importlib.metadata.version("setuptools")
    except importlib.metadata.PackageNotFoundError:
        have = "none"
    if have == "none" or int(have.split(".")[0]) < need:
        pytest.fail(
            f"building the wheel offline needs setuptools>={need} (pyproject.toml "
            f"[build-system]); this environment has {have}. Install the test extras: "
            "pip install -e '.[test]'"
        )
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "source"
    shutil.copytree(ROOT, source, ignore=_not_sources)
    out = tmp / "dist"
    out.mkdir()
    build = "import sys\nfrom setuptools import build_meta\nbuild_meta.build_wheel(sys.argv[1])"
    proc = subprocess.run(
        [sys.executable, "-c", build, str(out)],
        cwd=source,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, f"the wheel build failed:\n{proc.stdout[-3000:]}{proc.stderr}"
    (built,) = out.glob("*.whl")
    return built


@pytest.fixture(scope="module")
def names(wheel) -> set[str]:
    with zipfile.ZipFile(wheel) as zf:
        return set(zf.namelist())


@pytest.fixture(scope="module")
def metadata(wheel):
    with zipfile.ZipFile(wheel) as zf:
        (path,) = [n for n in zf.namelist() if n.endswith(".dist-info/METADATA")]
        return Parser().parsestr(zf.read(path).decode())


def test_wheel_carries_the_library_and_every_experiment(names):
    assert set(LIBRARY) <= names, sorted(set(LIBRARY) - names)
    assert "grokrfm/__init__.py" in names
    assert {n for n in names if n.startswith("experiments/")} == set(EXPERIMENTS)


def test_wheel_holds_nothing_but_the_two_packages(names, metadata):
    dist_info = f"grokrfm-{metadata['Version']}.dist-info"
    assert {n.split("/")[0] for n in names} == {"grokrfm", "experiments", dist_info}


def test_wheel_carries_the_mit_licence(wheel, names, metadata):
    (path,) = [n for n in names if n.endswith(".dist-info/licenses/LICENSE")]
    with zipfile.ZipFile(wheel) as zf:
        text = zf.read(path).decode()
    assert text == (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License\n\nCopyright (c) 2026 The grokrfm authors\n")
    assert metadata["License-Expression"] == "MIT"


def _top_level(text: str) -> dict[str, str]:
    """The unindented ``key: value`` lines of a YAML file (no YAML parser needed)."""
    return dict(re.findall(r"^([a-z-]+):[ ]*(.*)$", text, flags=re.MULTILINE))


def test_citation_names_the_software_as_the_wheel_does_and_the_paper(metadata):
    text = (ROOT / "CITATION.cff").read_text()
    assert "\t" not in text, "YAML forbids tabs in indentation"
    top = _top_level(text)
    assert {"cff-version", "message", "title", "authors"} <= set(top), "CFF's required keys"
    assert top["cff-version"] == "1.2.0"
    assert top["type"] == "software"
    assert top["title"] == metadata["Name"] == "grokrfm"
    assert top["version"] == metadata["Version"]
    assert top["license"] == metadata["License-Expression"]
    assert re.search(r"^authors:\n  - name: The grokrfm authors$", text, flags=re.MULTILINE)
    references = text[text.index("\nreferences:\n") :]
    first = references.split("\n  - type:")[1]
    assert first.startswith(" article\n")
    assert f"title: {PAPER_TITLE}\n" in first
    assert f"url: {PAPER_URL}\n" in first
    assert "year: 2026\n" in first


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path.name}: relative import"
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("name", EXPERIMENT_NAMES)
def test_experiment_needs_only_what_the_wheel_installs(name, metadata):
    """Only the standard library, the two packages and the declared dependencies; no file
    found next to the module (nothing but .py files ships)."""
    path = ROOT / "experiments" / f"{name}.py"
    declared = {
        re.match(r"[A-Za-z0-9_.-]+", r).group(0)
        for r in metadata.get_all("Requires-Dist")
        if "extra ==" not in r
    }
    assert declared >= DEPENDENCIES
    allowed = set(sys.stdlib_module_names) | DEPENDENCIES | {"grokrfm", "experiments"}
    assert _imports(path) <= allowed, sorted(_imports(path) - allowed)
    assert "__file__" not in path.read_text()


def test_installed_experiments_start_outside_the_clone(wheel, tmp_path):
    """Unpacked (what pip does with a pure wheel) and first on the path, every experiment
    imports from the unpacked copy and one starts from a folder that is not the clone.

    A real run there costs a compile (about 10 s); tests/test_experiments.py runs the same
    module from the clone.
    """
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(site)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site)}
    where = (
        "import importlib, sys\n"
        "for name in sys.argv[1:]:\n"
        "    print(importlib.import_module(name).__file__)\n"
    )

    def python(*args):  # from the unrelated folder, with only the unpacked wheel added
        return subprocess.run(
            [sys.executable, *args], cwd=elsewhere, env=env, capture_output=True, text=True,
            timeout=120,
        )  # fmt: skip

    modules = ["grokrfm", *(f"experiments.{n}" for n in EXPERIMENT_NAMES)]
    proc = python("-c", where, *modules)
    assert proc.returncode == 0, proc.stderr
    files = [Path(line) for line in proc.stdout.split()]
    assert len(files) == len(modules)
    assert all(f.is_relative_to(site) for f in files), files

    proc = python("-m", "experiments.symmetry_breaking", "--help")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage: python -m experiments.symmetry_breaking")
