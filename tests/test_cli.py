"""End to end through the `s4a` command line against a real server, and the offline
activity-chain check against the server's real SQLite file."""

from __future__ import annotations

import json
import math
import re
import sqlite3
import stat
import time

import pytest
import requests

from conftest import Cli, Server, signup_and_login

TOKEN_RE = re.compile(r"s4a_[A-Za-z0-9]+")
SLUG_RE = re.compile(r"[a-z0-9](?:[a-z0-9-]{1,38})[a-z0-9]")


def api_env(server: Server, key: str) -> dict[str, str]:
    return {"S4A_API_URL": server.base_url, "S4A_API_KEY": key, "S4A_CA_CERT": str(server.ca)}


def test_login_writes_a_private_config_without_the_password(server, account, cli):
    out = cli.login(server, account)
    assert str(cli.config_path) in out.stdout
    mode = stat.S_IMODE(cli.config_path.stat().st_mode)
    assert mode == 0o600, f"{cli.config_path} is mode {mode:o}"
    text = cli.config_path.read_text()
    assert account.password not in text
    config = json.loads(text)
    assert config["api_url"] == server.base_url
    token = config["token"]
    # The saved session works as a bearer token on the API.
    assert server.request("GET", "/v1/account", token).json()["email"] == account.email
    assert cli.json("project", "list") == []


def test_login_honours_xdg_config_home(server, account, cli_factory):
    cli = cli_factory(xdg=True)
    cli.login(server, account)
    assert cli.config_path.is_file()
    assert str(cli.xdg_config_home) in str(cli.config_path)
    assert not (cli.home / ".config" / "s4a" / "config.json").exists()
    assert stat.S_IMODE(cli.config_path.stat().st_mode) == 0o600


def test_login_with_a_wrong_password_fails_and_saves_nothing(server, account, cli):
    p = cli.run("login", "--email", account.email, "--password-stdin", "--api-url", server.base_url,
                "--ca-cert", str(server.ca), input="not the right password\n")
    assert p.returncode == 1, p.stdout + p.stderr
    assert "not the right password" not in p.stdout + p.stderr, "the CLI echoed the password"
    assert not cli.config_path.exists() or "token" not in json.loads(cli.config_path.read_text())


def test_cli_refuses_a_server_it_cannot_verify_and_never_echoes_secrets(server, account, cli):
    # Without --ca-cert the local CA is not trusted: the handshake must fail...
    p = cli.run("login", "--email", account.email, "--password-stdin", "--api-url", server.base_url,
                input=account.password + "\n")
    out = p.stdout + p.stderr
    assert p.returncode == 1, out
    assert not cli.config_path.exists()
    # ...and the error must not carry the password it was about to send.
    assert account.password not in out, f"the password leaked into the CLI's error output:\n{out}"
    # Same for an API key given through the environment.
    created = server.request("POST", "/v1/api-keys", account.token,
                             json={"name": "leak-probe", "scopes": ["projects:read"]}).json()
    p = cli.run("project", "list", env={"S4A_API_URL": server.base_url, "S4A_API_KEY": created["token"]})
    out = p.stdout + p.stderr
    assert p.returncode == 1, out
    assert created["token"] not in out, f"the API key leaked into the CLI's error output:\n{out}"


def test_key_token_is_shown_once_and_never_listed(server, account, cli):
    cli.login(server, account)
    p = cli.ok("key", "create", "--name", "agent", "--scope", "projects:read", "--json")
    created = json.loads(p.stdout)
    token = created["token"]
    assert token.startswith("s4a_") and TOKEN_RE.fullmatch(token), token
    assert len(token[4:]) * math.log2(62) >= 256, "fewer than 256 bits in the token"
    assert p.stdout.count(token) == 1
    for shown in TOKEN_RE.findall(p.stdout):  # besides the token, at most a short prefix of it
        assert shown == token or (token.startswith(shown) and len(shown) <= 16), shown
    key_id = created["key"]["id"]
    assert key_id.startswith("key_")
    secret = token[len(created["key"].get("prefix", "s4a_")):]
    for args in (["key", "list", "--json"], ["key", "list"], ["activity", "--json"], ["activity"]):
        out = cli.ok(*args).stdout
        assert token not in out and secret not in out, f"s4a {' '.join(args)} leaks the token"
    # The human form shows its token exactly once too.
    human = cli.ok("key", "create", "--name", "agent-2", "--scope", "projects:read").stdout
    tokens = [t for t in TOKEN_RE.findall(human) if len(t) > 16]
    assert len(tokens) == 1 and human.count(tokens[0]) == 1, human
    listed = cli.json("key", "list")
    assert [k["id"] for k in listed if k["name"] == "agent"] == [key_id]
    assert tokens[0] not in json.dumps(listed)
    assert "token" not in listed[0]
    assert server.request("GET", "/v1/projects", token).status_code == 200


def test_project_lifecycle_keeps_its_url(server, account, cli):
    cli.login(server, account)
    p = cli.json("project", "create", "Shop Front", "--slug", "shop-front-" + account.email[5:13])
    assert p["id"].startswith("prj_")
    assert p["visibility"] == "private"
    assert SLUG_RE.fullmatch(p["slug"]), p["slug"]
    url = f"https://{p['slug']}.apps.localhost:{server.port}"
    assert p["url"] == url
    pub = cli.json("project", "publish", p["id"])
    assert (pub["visibility"], pub["url"], pub["slug"]) == ("public", url, p["slug"])
    assert cli.json("project", "show", p["id"])["visibility"] == "public"
    unpub = cli.json("project", "unpublish", p["id"])
    assert (unpub["visibility"], unpub["url"], unpub["slug"]) == ("private", url, p["slug"])
    # The API agrees with the CLI.
    got = server.request("GET", f"/v1/projects/{p['id']}", account.token).json()
    assert (got["visibility"], got["url"]) == ("private", url)
    # A generated slug is a DNS label too, and the human table shows the project.
    g = cli.json("project", "create", "Generated Slug Project")
    assert SLUG_RE.fullmatch(g["slug"]) and g["url"] == f"https://{g['slug']}.apps.localhost:{server.port}"
    table = cli.ok("project", "list").stdout
    assert p["id"] in table and g["id"] in table
    # Delete: gone from the list, `show` fails with exit code 1.
    cli.ok("project", "delete", g["id"])
    assert g["id"] not in [x["id"] for x in cli.json("project", "list")]
    assert cli.run("project", "show", g["id"]).returncode == 1


def test_api_key_through_environment_then_revoked(server, account, cli, cli_factory):
    cli.login(server, account)
    proj = cli.json("project", "create", "Agent Target")
    created = cli.json("key", "create", "--name", "agent", "--scope", "projects:read",
                       "--scope", "projects:write")
    key_id, token = created["key"]["id"], created["token"]

    agent = cli_factory()  # no config file: only the environment
    env = api_env(server, token)
    listed = agent.json("project", "list", env=env)
    assert proj["id"] in [x["id"] for x in listed]
    mine = agent.json("project", "create", "Made By Agent", env=env)
    assert mine["visibility"] == "private"
    # Publishing needs projects:publish, which this key lacks.
    denied = agent.run("project", "publish", mine["id"], env=env)
    assert denied.returncode == 1, denied.stdout + denied.stderr
    assert "403" in denied.stderr or "projects:publish" in denied.stderr
    assert agent.json("project", "show", mine["id"], env=env)["visibility"] == "private"

    # The activity log names the key as the actor of what it did.
    events = cli.json("activity")
    made = [e for e in events if e["action"] == "project.created" and e["target"]["id"] == mine["id"]]
    assert len(made) == 1 and made[0]["actor"] == {"type": "api_key", "id": key_id}, made

    out = cli.ok("key", "revoke", key_id)
    assert key_id in out.stdout
    after = agent.run("project", "list", "--json", env=env)
    assert after.returncode == 1, after.stdout + after.stderr
    assert "401" in after.stderr, after.stderr
    assert server.request("GET", "/v1/projects", token).status_code == 401
    revoked = [e for e in cli.json("activity") if e["action"] == "api_key.revoked"]
    assert [e["target"]["id"] for e in revoked] == [key_id]


def test_activity_shows_each_change_once_with_its_actor(server, account, cli):
    cli.login(server, account)
    proj = cli.json("project", "create", "Audited")
    cli.ok("project", "publish", proj["id"])
    events = cli.json("activity")
    me = server.request("GET", "/v1/account", account.token).json()["id"]
    created = [e for e in events if e["action"] == "project.created"]
    assert len(created) == 1
    assert created[0]["target"] == {"type": "project", "id": proj["id"]}
    assert created[0]["actor"] == {"type": "account", "id": me}
    vis = [e for e in events if e["action"] == "project.visibility_changed"]
    assert len(vis) == 1 and vis[0]["metadata"] == {"from": "private", "to": "public"}, vis
    assert [e["action"] for e in events].count("account.created") == 1
    ats = [e["at"] for e in events]
    assert ats == sorted(ats, reverse=True), "activity is not newest first"
    table = cli.ok("activity").stdout
    assert "project.created" in table and proj["id"] in table


@pytest.mark.parametrize("args", [
    ["project", "create"],                                   # missing name
    ["key", "create", "--name", "x"],                        # missing --scope
    ["key", "create", "--name", "x", "--scope", "nope:nope"],  # unknown scope
    ["frobnicate"],                                          # unknown command
    ["project", "list", "--no-such-flag"],
    ["key", "revoke"],                                       # missing id
])
def test_usage_errors_exit_2(server, account, cli, args):
    cli.login(server, account)
    before = cli.json("key", "list")
    p = cli.run(*args)
    assert p.returncode == 2, f"s4a {' '.join(args)} → {p.returncode}\n{p.stdout}\n{p.stderr}"
    assert p.stderr.strip(), "a usage error should say what is wrong"
    assert cli.json("key", "list") == before


def test_client_commands_without_credentials_fail(cli):
    p = cli.run("project", "list")
    assert p.returncode in (1, 2), p.stdout + p.stderr
    assert "login" in p.stderr or "S4A_API_KEY" in p.stderr, p.stderr


def test_logout_ends_the_session(server, account, cli):
    cli.login(server, account)
    token = json.loads(cli.config_path.read_text())["token"]
    assert server.request("GET", "/v1/account", token).status_code == 200
    cli.ok("logout")
    assert server.request("GET", "/v1/account", token).status_code == 401
    assert "token" not in json.loads(cli.config_path.read_text())
    p = cli.run("project", "list")
    assert p.returncode != 0
    # The HTTP session of the same account (another login) is untouched.
    assert server.request("GET", "/v1/account", account.token).status_code == 200


# ------------------------------------------------------------------ the tamper test

def _verify(cli: Cli, server: Server, *extra: str):
    return cli.run("activity", "verify", "--data-dir", str(server.data_dir), *extra)


@pytest.fixture
def tamper_setup(make_server, cli):
    """A server of its own (its data is about to be corrupted) with one account that made a
    project and published it; returns (server, account id, project id)."""
    srv = make_server()
    acct = signup_and_login(srv)
    cli.login(srv, acct)
    proj = cli.json("project", "create", "Tamper Target")
    cli.ok("project", "publish", proj["id"])
    me = srv.request("GET", "/v1/account", acct.token).json()["id"]
    # A second account, so that there is more than one chain.
    other = signup_and_login(srv)
    srv.request("POST", "/v1/projects", other.token, json={"name": "Bystander"}).raise_for_status()
    return srv, me, proj["id"]


def test_activity_verify_reports_an_edited_event(tamper_setup, cli):
    srv, account_id, project_id = tamper_setup
    ok = _verify(cli, srv)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "OK" in ok.stdout and "BROKEN" not in ok.stdout + ok.stderr

    # Edit one event row in the live database (the server keeps running; WAL is fine).
    con = sqlite3.connect(srv.sqlite_path, timeout=10)
    with con:
        event_id, original = con.execute(
            "SELECT id, metadata FROM activity_events WHERE action = 'project.visibility_changed' "
            "AND target_id = ?", (project_id,)).fetchone()
        meta = json.loads(original)
        assert meta == {"from": "private", "to": "public"}
        meta["to"] = "private"
        con.execute("UPDATE activity_events SET metadata = ? WHERE id = ?", (json.dumps(meta), event_id))
    bad = _verify(cli, srv)
    out = bad.stdout + bad.stderr
    assert bad.returncode == 1, out
    assert "BROKEN" in out and event_id in out and account_id in out, out

    # Put it back: the chain verifies again, so the failure was exactly that edit.
    with con:
        con.execute("UPDATE activity_events SET metadata = ? WHERE id = ?", (original, event_id))
    again = _verify(cli, srv)
    assert again.returncode == 0, again.stdout + again.stderr

    # Removing an event from the middle of a chain is caught too.
    with con:
        (victim,) = con.execute(
            "SELECT id FROM activity_events WHERE account_id = ? AND action = 'project.created'",
            (account_id,)).fetchone()
        con.execute("DELETE FROM activity_events WHERE id = ?", (victim,))
    con.close()
    gone = _verify(cli, srv)
    assert gone.returncode == 1, gone.stdout + gone.stderr
    assert "BROKEN" in gone.stdout + gone.stderr
    # The server itself is unaffected by the offline check.
    assert srv.request("GET", "/healthz").status_code == 200


def test_activity_verify_json_uses_json_types(tamper_setup, cli):
    srv, account_id, _ = tamper_setup
    good = _verify(cli, srv, "--json")
    assert good.returncode == 0, good.stdout + good.stderr
    report = json.loads(good.stdout)
    assert report["ok"] is True, report
    con = sqlite3.connect(srv.sqlite_path, timeout=10)
    with con:
        con.execute("UPDATE activity_events SET target_id = 'prj_forged' WHERE account_id = ? "
                    "AND action = 'project.created'", (account_id,))
    con.close()
    bad = _verify(cli, srv, "--json")
    assert bad.returncode == 1, bad.stdout + bad.stderr
    report = json.loads(bad.stdout)
    # A consumer testing `report["ok"]` must not read a broken chain as intact.
    assert report["ok"] is False, report
    assert isinstance(report["events"], int) and isinstance(report["accounts"], int), report


# ------------------------------------------------------------------ s4a serve itself

def test_serve_prints_its_url_and_ca_and_stops_gracefully_on_sigterm(make_server):
    srv = make_server()
    log = srv.log()
    assert f"Server4Agent is serving https://localhost:{srv.port}" in log, log
    assert f"Trust this CA: {srv.ca}" in log, log
    # An idle keep-alive connection and a finished request must not hold up shutdown.
    session = requests.Session()  # (per-call verify: REQUESTS_CA_BUNDLE beats Session.verify)
    assert session.get(srv.url("/healthz"), verify=str(srv.ca), timeout=10).status_code == 200
    started = time.monotonic()
    code = srv.stop()
    assert code == 0, srv.log()
    assert time.monotonic() - started < 10
    session.close()
    # The data directory it made is reused by the next start: same CA.
    ca_before = srv.ca.read_bytes()
    again = make_server.restart(srv)
    assert again.ca.read_bytes() == ca_before
    assert again.request("GET", "/healthz").status_code == 200


def test_the_cli_speaks_human(server, cli):
    """`--version`, signup pointing to `s4a login`, comma-separated scopes, durations for
    --since, and JSON output that ends with a newline."""
    from pathlib import Path
    contract = (Path(__file__).resolve().parent.parent / "Sources/S4AContract/openapi.yaml").read_text()
    version = re.search(r"^  version: (\S+)$", contract, re.M).group(1)
    assert cli.ok("--version").stdout.strip() == version
    email = f"human-{time.time_ns()}@example.com"
    env = {"S4A_API_URL": server.base_url, "S4A_CA_CERT": str(server.ca)}
    signed = cli.run("signup", "--email", email, "--password-stdin", input="a long passphrase\n", env=env)
    assert signed.returncode == 0, signed.stderr
    assert f"s4a login --email {email}" in signed.stdout, signed.stdout
    assert cli.run("login", "--email", email, "--password-stdin", input="a long passphrase\n", env=env).returncode == 0
    raw = cli.ok("key", "create", "--name", "commas", "--scope", "projects:read,servers:read", "--json").stdout
    assert raw.endswith("}\n")
    assert sorted(json.loads(raw)["key"]["scopes"]) == ["projects:read", "servers:read"]
    bad = cli.run("key", "create", "--name", "bad", "--scope", "projects:read,nope")
    assert bad.returncode == 2 and "nope" in bad.stderr
    exported = cli.run("activity", "export", "--since", "10m")
    assert exported.returncode == 0 and "key.created" in exported.stdout, exported.stderr
    wrong = cli.run("activity", "export", "--since", "yesterday")
    assert wrong.returncode == 2 and "duration" in wrong.stderr
