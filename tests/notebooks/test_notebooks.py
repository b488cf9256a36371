"""Every notebook in notebooks/ runs top to bottom, in time, on a store filled by a replay of the
peak of the November 2025 event; each is executed in memory, so the files stay as committed
(without outputs)."""

from __future__ import annotations

import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from floodwatch.cli.main import run as cli

NOTEBOOKS_DIR = Path(__file__).resolve().parents[2] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))
SINCE, UNTIL = "2025-11-16T12:00Z", "2025-11-20T00:00Z"
MAX_SECONDS = 60.0


@pytest.fixture(scope="session")
def replay_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SpatiaLite store in a data directory of its own: Huế and 85 hourly steps of the event
    through the model cycle and the alerts (about a minute)."""
    data_dir = tmp_path_factory.mktemp("notebook-store")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FLOODWATCH_DATA_DIR", str(data_dir))
        mp.delenv("FLOODWATCH_DATABASE_URL", raising=False)
        mp.delenv("FLOODWATCH_CONFIG", raising=False)
        for args in (["db", "upgrade"], ["region", "load", "hue"],
                     ["replay", "run", "hue-2025-11", "--since", SINCE, "--until", UNTIL,
                      "--every-hours", "1"]):
            assert cli(args) == 0, args
    return data_dir


def test_there_are_notebooks_and_they_are_stored_without_outputs() -> None:
    assert [p.name for p in NOTEBOOKS] == ["01_november_2025_flood.ipynb",
                                           "02_ward_exposure.ipynb", "03_data_quality.ipynb",
                                           "04_new_city.ipynb"]
    for path in NOTEBOOKS:
        notebook = nbformat.read(path, as_version=4)
        nbformat.validate(notebook)
        for cell in notebook.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, path.name
        assert notebook.cells[0].cell_type == "markdown", path.name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_top_to_bottom(path: Path, replay_store: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    committed = path.read_bytes()
    notebook = nbformat.reads(committed.decode("utf-8"), as_version=4)
    monkeypatch.setenv("FLOODWATCH_DATA_DIR", str(replay_store))  # the kernel inherits it
    monkeypatch.delenv("FLOODWATCH_DATABASE_URL", raising=False)
    monkeypatch.delenv("FLOODWATCH_CONFIG", raising=False)
    began = time.perf_counter()
    NotebookClient(notebook, kernel_name="python3", timeout=int(MAX_SECONDS * 2),
                   resources={"metadata": {"path": str(NOTEBOOKS_DIR)}}).execute()
    elapsed = time.perf_counter() - began
    assert elapsed < MAX_SECONDS, f"{path.name} took {elapsed:.0f} s"
    figures = [o for cell in notebook.cells for o in cell.get("outputs", [])
               if "image/png" in o.get("data", {})]
    assert figures, f"{path.name} drew nothing"
    assert path.read_bytes() == committed
