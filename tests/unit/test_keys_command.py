"""`piano-ai keys create | list | revoke` on a fresh SQLite job store."""

from pathlib import Path

import pytest
from service_testkit import clear_service_caches

from piano_ai import cli
from piano_ai.db import keys
from piano_ai.db.session import get_engine, session_scope


@pytest.fixture(autouse=True)
def job_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/jobs.db")
    clear_service_caches()
    yield
    get_engine().dispose()
    clear_service_caches()


def test_create_prints_a_working_key_once_and_list_shows_only_its_prefix(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli.main(["keys", "create", "ci", "--admin"]) == 0
    key = capsys.readouterr().out.strip()
    with session_scope() as session:
        row = keys.authenticate(session, key)
    assert row is not None and row.name == "ci" and row.admin
    assert cli.main(["keys", "list"]) == 0
    listing = capsys.readouterr().out
    assert "ci" in listing and "admin" in listing and key[:12] in listing and key not in listing


def test_revoke_stops_the_key_and_names_are_unique(capsys: pytest.CaptureFixture[str]) -> None:
    cli.main(["keys", "create", "alice"])
    key = capsys.readouterr().out.strip()
    assert cli.main(["keys", "create", "alice"]) == 2
    assert "exists" in capsys.readouterr().err
    assert cli.main(["keys", "revoke", "alice"]) == 0
    with session_scope() as session:
        assert keys.authenticate(session, key) is None
    assert cli.main(["keys", "revoke", "alice"]) == 1  # nothing live left under that name
