"""The example notebooks run top to bottom on the embedded sample, and are committed clean.

Each notebook is executed with nbclient in a kernel of this interpreter (ipykernel), against
the embedded ``utah-sample`` region: no network, no downloads.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
TIMEOUT_S = 600


def test_notebooks_are_numbered_and_present():
    names = [p.name for p in NOTEBOOKS]
    assert names == [
        "01_explore_layers.ipynb",
        "02_rank_parcels.ipynb",
        "03_sensitivity_and_validation.ipynb",
        "04_learned_prospectivity.ipynb",
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name}: a code cell has outputs; strip them"
            assert cell.execution_count is None, f"{path.name}: execution counts left in"
    assert "widgets" not in nb.metadata


#: The spec ipykernel installs; jupyter_client starts its "python" with sys.executable,
#: so the kernel runs in this very environment (the venv with prospector installed).
KERNEL = "python3"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(path, tmp_path, monkeypatch):
    from nbclient import NotebookClient

    # Anything a notebook writes relative to the working directory stays in tmp_path.
    monkeypatch.chdir(tmp_path)
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb, timeout=TIMEOUT_S, kernel_name=KERNEL, resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    errors = [
        out
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.outputs
        if out.output_type == "error"
    ]
    assert errors == []
    # Every code cell ran and the last one produced something to look at.
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code)
    assert code[-1].outputs, f"{path.name}: the last cell shows nothing"
