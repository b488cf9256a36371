"""The command line's tests: the ``floodwatch`` command pointed at a fresh store (each backend)
with its data directory under the test's tmp_path, and no configuration file."""

from __future__ import annotations

from pathlib import Path

import pytest

from floodwatch.cli.main import run


@pytest.fixture
def cli_store(store_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """A migrated, empty store the command uses; its URL."""
    monkeypatch.setenv("FLOODWATCH_DATABASE_URL", store_url)
    monkeypatch.setenv("FLOODWATCH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("FLOODWATCH_CONFIG", raising=False)
    assert run(["db", "upgrade"]) == 0
    return store_url


@pytest.fixture
def hue_cli_store(cli_store: str) -> str:
    """The same with the Huế region loaded."""
    assert run(["region", "load", "hue"]) == 0
    return cli_store
