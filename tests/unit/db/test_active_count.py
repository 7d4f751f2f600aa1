"""A submit's count of its key's queued and running jobs reads the (owner_key_id, status) index alone, so it
costs the same with 100,000 finished jobs as with none (migration 0008); the migrations make the indexes the
models declare."""

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from piano_ai.db import jobs as job_store
from piano_ai.db.migrate import upgrade
from piano_ai.db.models import Job
from piano_ai.db.session import make_engine


@pytest.mark.parametrize("owner", [None, 7])
def test_the_active_job_count_is_answered_by_a_covering_index(tmp_path: Path, owner: int | None) -> None:
    url = f"sqlite:///{tmp_path}/jobs.db"
    upgrade(url)
    engine = make_engine(url)
    seen: list[tuple[str, Any]] = []
    event.listen(
        engine, "before_cursor_execute", lambda _c, _cur, sql, params, *_: seen.append((sql, params))
    )
    with Session(engine) as session:
        assert job_store.count_active(session, owner) == 0
    ((sql, params),) = seen
    with engine.connect() as connection:
        plan = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params).all()
    engine.dispose()
    assert [row[-1] for row in plan] == [
        "SEARCH jobs USING COVERING INDEX ix_jobs_owner_status (owner_key_id=? AND status=?)"
    ]


def test_the_migrations_make_the_indexes_the_models_declare(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/jobs.db"
    upgrade(url)
    engine = make_engine(url)
    made = {index["name"] for index in inspect(engine).get_indexes("jobs")}
    engine.dispose()
    declared = {index.name for index in Job.__table__.indexes}  # type: ignore[attr-defined]
    assert declared <= made
