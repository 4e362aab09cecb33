"""Shared pytest fixtures."""

import os
import pathlib

import pytest

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def babi_dir() -> pathlib.Path:
    """The bAbI v1.2 data folder (holding ``en/``), or skip the test.

    ``$KERAS_SEQMEM_BABI_DIR`` if set, else ``<repo root>/../shared/data/babi``
    (the team's copy). Tests that use it are skipped when the folder or its
    ``en/`` is absent.
    """
    env = os.environ.get("KERAS_SEQMEM_BABI_DIR")
    path = pathlib.Path(env) if env else REPO_ROOT.parent / "shared" / "data" / "babi"
    if not (path / "en").is_dir():
        pytest.skip(
            f"bAbI data not found at {path}; set KERAS_SEQMEM_BABI_DIR to a "
            "tasks_1-20_v1-2 folder"
        )
    return path
