"""The Colab notebook: valid, uses only the top-level API, configures JAX before its
backend starts, installs grokrfm from where the user has it, and runs top to bottom
(headless, at its tiny size, in a kernel on this interpreter)."""

import ast
import importlib.metadata
import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import grokrfm

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "examples" / "colab.ipynb"
PLACEHOLDER = 'GROKRFM_SOURCE = ""'


def code_cells() -> list[str]:
    nb = json.loads(NOTEBOOK.read_text())
    assert nb["nbformat"] == 4
    return ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]


def install_cell() -> str:
    (cell,) = [c for c in code_cells() if PLACEHOLDER in c]
    return cell


def test_colab_notebook_is_plain_python_on_the_top_level_api():
    code = code_cells()
    assert len(code) >= 4
    for cell in code:
        ast.parse(cell)  # no shell or magic lines: every cell also runs outside IPython
    source = "\n".join(code)
    used = set(re.findall(r"\bgr\.(\w+)", source))
    assert used and all(hasattr(grokrfm, name) for name in used), used
    assert "gr.moved_splits" in source
    # One configuration, before anything starts JAX's backend (XLA reads flags at start).
    assert source.count("gr.configure(") == 1
    starts = [source.index(s) for s in ("jax.default_backend()", "jax.devices()") if s in source]
    assert starts and source.index("gr.configure(x64=use_x64") < min(starts)


def run_install_cell(monkeypatch, importable: bool, source: str = "") -> tuple[dict, list]:
    """Execute the install cell with grokrfm (not) importable and the given source; pip
    never runs (no network), its commands are recorded."""
    find_spec = importlib.util.find_spec

    def fake_find_spec(name, package=None):
        return None if name == "grokrfm" and not importable else find_spec(name, package)

    commands: list = []

    def fake_pip(command, **_):
        commands.append(command)
        return ""

    monkeypatch.setattr(importlib.util, "find_spec", fake_find_spec)
    monkeypatch.setattr(subprocess, "check_output", fake_pip)
    namespace: dict = {}
    exec(install_cell().replace(PLACEHOLDER, f"GROKRFM_SOURCE = {source!r}"), namespace)
    return namespace, commands


def test_install_cell_matches_pyproject(monkeypatch):
    pyproject = (ROOT / "pyproject.toml").read_text()
    namespace, _ = run_install_cell(monkeypatch, importable=True)
    (minimum,) = re.findall(r'"jax>=([\d.]+)"', pyproject)
    assert namespace["JAX_MINIMUM"] == tuple(int(n) for n in minimum.split("."))
    for extra in filter(None, namespace["EXTRA"].values()):
        assert re.search(rf"^{extra} = \[", pyproject, re.MULTILINE), extra


def test_install_cell_skips_when_grokrfm_is_importable(monkeypatch):
    namespace, commands = run_install_cell(monkeypatch, importable=True)
    assert commands == []
    assert namespace["ACCELERATOR"] in ("cpu", "gpu", "tpu")


def test_install_cell_asks_for_the_source_when_unset(monkeypatch):
    with pytest.raises(RuntimeError, match=r"^Set GROKRFM_SOURCE .* git URL .* archive"):
        run_install_cell(monkeypatch, importable=False)
    with pytest.raises(FileNotFoundError, match="GROKRFM_SOURCE"):
        run_install_cell(monkeypatch, importable=False, source="/no/such/grokrfm.zip")


def test_install_cell_installs_an_uploaded_archive(monkeypatch, tmp_path):
    archive = tmp_path / "grokrfm.zip"
    archive.touch()
    namespace, commands = run_install_cell(monkeypatch, importable=False, source=str(archive))
    extra = namespace["EXTRA"][namespace["ACCELERATOR"]]
    requirement = f"grokrfm{f'[{extra}]' if extra else ''} @ {archive.as_uri()}"
    assert commands == [[sys.executable, "-m", "pip", "install", "--quiet", requirement]]


def test_install_cell_chooses_the_accelerator_extra_and_keeps_jax(monkeypatch):
    namespace, _ = run_install_cell(monkeypatch, importable=True)
    pip_command = namespace["pip_command"]
    git = "git+https://example.invalid/grokrfm@v1"
    assert pip_command(git, "gpu")[-1] == f"grokrfm[cuda12] @ {git}"
    assert pip_command(git, "tpu")[-1] == f"grokrfm[tpu] @ {git}"
    assert pip_command(git, "cpu")[-1] == f"grokrfm @ {git}"
    # A repository's web address is cloned; an archive's is downloaded.
    assert pip_command("https://example.invalid/grokrfm", "cpu")[-1].endswith(
        "@ git+https://example.invalid/grokrfm"
    )
    assert pip_command("https://example.invalid/main.zip", "cpu")[-1].endswith(
        "@ https://example.invalid/main.zip"
    )
    # Without --upgrade pip keeps an installed JAX that satisfies grokrfm's requirement.
    assert not {"-U", "--upgrade", "--force-reinstall"} & set(pip_command(git, "gpu"))
    for version, note in [("0.10.2", "kept"), ("0.11.0rc1", "kept"), ("0.4.30", "upgrades")]:
        monkeypatch.setattr(importlib.metadata, "version", lambda name, v=version: v)
        assert note in namespace["installed_jax"](), version


def test_colab_notebook_runs_headless(monkeypatch, tmp_path):
    import nbformat
    from ipykernel.kernelspec import write_kernel_spec
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient

    nb = nbformat.read(NOTEBOOK, as_version=4)
    nb.cells.insert(0, nbformat.v4.new_code_cell("import sys\nprint('prefix:', sys.prefix)"))
    # A kernel spec for this interpreter (write_kernel_spec uses sys.executable), so the
    # notebook runs in this virtual environment whatever `python3` kernels exist elsewhere.
    write_kernel_spec(str(tmp_path / "kernels" / "python3"))
    specs = KernelSpecManager(kernel_dirs=[str(tmp_path / "kernels")])
    kernel = KernelManager(kernel_name="python3", kernel_spec_manager=specs)
    monkeypatch.setenv("GROKRFM_NOTEBOOK_SIZE", "tiny")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    client = NotebookClient(
        nb, km=kernel, timeout=300, resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()  # raises CellExecutionError if a cell fails

    def text(cell) -> str:
        return "".join(
            out.get("text", "") + out.get("data", {}).get("text/plain", "")
            for out in cell.get("outputs", [])
        )

    outputs = {cell.get("id"): text(cell) for cell in nb.cells}
    assert not [o for c in nb.cells for o in c.get("outputs", []) if o["output_type"] == "error"]
    assert f"prefix: {sys.prefix}\n" in text(nb.cells[0])
    assert "accelerator:" in outputs["install"] and "backend:" in outputs["configure"]
    assert "size tiny: p = 11" in outputs["sizes"]
    assert "test acc" in outputs["headline"] and "test acc" in outputs["sweep"]
