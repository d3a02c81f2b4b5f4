"""The Colab notebook is valid, its Python parses (shell and magic lines aside) and it
uses only names the top-level API has."""

import ast
import json
import re
from pathlib import Path

import grokrfm

NOTEBOOK = Path(__file__).resolve().parents[1] / "examples" / "colab.ipynb"


def test_colab_notebook_is_valid_python():
    nb = json.loads(NOTEBOOK.read_text())
    assert nb["nbformat"] == 4
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert len(code) >= 4
    for cell in code:
        lines = "".join(cell["source"]).splitlines()
        python = "\n".join(l for l in lines if not l.lstrip().startswith(("!", "%")))
        ast.parse(python)
    source = "".join("".join(c["source"]) for c in code)
    assert "gr.configure(x64=use_x64" in source and "gr.moved_splits" in source
    used = set(re.findall(r"\bgr\.(\w+)", source))
    assert used and all(hasattr(grokrfm, name) for name in used), used
