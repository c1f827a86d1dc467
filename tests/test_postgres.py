"""The same binary on PostgreSQL: `s4a serve --database-url postgres://…` and the offline
chain check against the same database. Needs S4A_TEST_POSTGRES_URL (make test starts a
throwaway cluster with scripts/postgres-test.sh); skipped without it unless
S4A_REQUIRE_POSTGRES=1, which turns the absence into a failure."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from urllib.parse import urlsplit, urlunsplit

import pytest

from conftest import signup_and_login
from test_budgets import race_against_the_spending_limit


@pytest.fixture(scope="module")
def base_url() -> str:
    url = os.environ.get("S4A_TEST_POSTGRES_URL", "")
    if not url:
        if os.environ.get("S4A_REQUIRE_POSTGRES") == "1":
            pytest.fail("S4A_REQUIRE_POSTGRES=1 but S4A_TEST_POSTGRES_URL is not set", pytrace=False)
        pytest.skip("S4A_TEST_POSTGRES_URL is not set (make test sets it)")
    return url


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


def psql(url: str, sql: str) -> str:
    exe = shutil.which("psql") or "/usr/lib/postgresql/15/bin/psql"
    p = subprocess.run([exe, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-tA", url, "-c", sql],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return p.stdout.strip()


@pytest.fixture
def database(base_url):
    """A database of its own on the test cluster, dropped afterwards: the Swift store
    suite uses s4a_test, and this test corrupts its data on purpose."""
    name = "s4a_cli_" + uuid.uuid4().hex[:10]
    psql(base_url, f"CREATE DATABASE {name}")
    yield with_database(base_url, name)
    psql(base_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_serve_and_verify_on_postgres(make_server, cli, database):
    srv = make_server(extra_args=["--database-url", database])
    assert "Store: postgres" in srv.log(), srv.log()
    assert not (srv.data_dir / "s4a.sqlite").exists(), "a SQLite store was created anyway"

    acct = signup_and_login(srv)
    cli.login(srv, acct)
    proj = cli.json("project", "create", "On Postgres")
    assert proj["visibility"] == "private"
    assert cli.json("project", "publish", proj["id"])["url"] == proj["url"]
    actions = [e["action"] for e in cli.json("activity")]
    assert actions.count("project.created") == 1 and "project.visibility_changed" in actions
    assert psql(database, f"SELECT count(*) FROM projects WHERE id = '{proj['id']}'") == "1"

    ok = cli.run("activity", "verify", "--database-url", database, "--data-dir", str(srv.data_dir))
    assert ok.returncode == 0 and "OK" in ok.stdout, ok.stdout + ok.stderr

    event_id = psql(database, "SELECT id FROM activity_events WHERE action = 'project.created' "
                              f"AND target_id = '{proj['id']}'")
    assert event_id.startswith("evt_")
    psql(database, f"UPDATE activity_events SET target_id = 'prj_forged' WHERE id = '{event_id}'")
    bad = cli.run("activity", "verify", "--database-url", database, "--data-dir", str(srv.data_dir))
    out = bad.stdout + bad.stderr
    assert bad.returncode == 1 and "BROKEN" in out and event_id in out, out


def test_the_account_limit_holds_under_concurrency_on_postgres(database, make_server):
    # `database` first: it is dropped after the server has stopped, not before.
    race_against_the_spending_limit(make_server(extra_args=["--database-url", database]))


def test_concurrent_sign_ins_cannot_beat_the_throttle_on_postgres(make_server, database):
    """Each attempt takes its slot under an advisory lock before its password is checked: 40 at
    once evaluate at most five passwords on PostgreSQL too."""
    from test_trust_under_fire import concurrent_sign_ins, evaluated_at_most_five_wrong_passwords

    srv = make_server(extra_args=["--database-url", database])
    evaluated_at_most_five_wrong_passwords(concurrent_sign_ins(srv))
