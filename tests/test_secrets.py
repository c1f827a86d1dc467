"""The vault, attacked through the real binary: values sealed at rest and never on disk in
plaintext, injected only into processes, masked in captured output, refused with the wrong
master key, rotated without loss, and a ciphertext moved to another row never opens."""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import sqlite3
import subprocess
import time
from pathlib import Path

from conftest import Server, clean_env, free_port, s4a_bin, signup_and_login


def value(tag: str) -> str:
    return f"{tag}-{secrets.token_hex(12)}"


def setup(srv: Server):
    acct = signup_and_login(srv)
    projects = [srv.request("POST", "/v1/projects", acct.token, json={"name": n}).json()["id"] for n in ("vault", "other")]
    servers = []
    for project in projects:
        r = srv.request("POST", "/v1/servers", acct.token,
                        json={"project_id": project, "name": "s", "budget_usd": "1", "memory_mb": 64, "disk_mb": 64})
        assert r.status_code == 201, r.text
        servers.append(r.json()["id"])
    return acct, projects, servers


def put(srv: Server, token: str, path: str, val: str):
    return srv.request("PUT", path, token, json={"value": val})


def sh(srv: Server, token: str, server: str, command: str, **extra) -> dict:
    r = srv.request("POST", f"/v1/servers/{server}/exec", token, json={"command": command, **extra})
    assert r.status_code in (200, 202), r.text
    return r.json()


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def files_containing(root: Path, needles: list[bytes]) -> list[str]:
    """Every file under `root` (database, WAL, bundles, disk images…) holding any needle."""
    found = []
    longest = max(len(n) for n in needles)
    for path in root.rglob("*"):
        if not path.is_file() or path.is_symlink():
            continue
        with open(path, "rb") as f:
            tail = b""
            while chunk := f.read(1 << 20):
                window = tail + chunk
                if any(n in window for n in needles):
                    found.append(str(path))
                    break
                tail = window[-longest:]
    return found


def test_values_are_injected_masked_and_never_on_disk(make_server):
    srv = make_server()
    acct, (project, other_project), (a, c) = setup(srv)
    project_value, server_value, other_value = value("proj"), value("srv"), value("other")
    assert put(srv, acct.token, f"/v1/projects/{project}/secrets/TOKEN", project_value).status_code == 200
    assert put(srv, acct.token, f"/v1/projects/{project}/secrets/SHARED", other_value).status_code == 200
    r = put(srv, acct.token, f"/v1/servers/{a}/secrets/TOKEN", server_value)
    assert r.status_code == 200 and r.json()["scope"] == "server" and "value" not in r.json(), r.text

    # The process sees them (server scope wins), compared by digest so no command holds a value.
    ran = sh(srv, acct.token, a, f'test "$(printf %s "$TOKEN" | sha256sum | cut -d" " -f1)" = {sha(server_value)} '
                                 f'&& test "$(printf %s "$SHARED" | sha256sum | cut -d" " -f1)" = {sha(other_value)}')
    assert ran["exit_code"] == 0, ran
    # The request's own env wins over secrets.
    assert sh(srv, acct.token, a, 'printf %s "$SHARED"', env={"SHARED": "mine"})["stdout"] == "mine"
    # Output that prints them is masked, in the answer and in the run record.
    printed = sh(srv, acct.token, a, 'echo "$TOKEN"; echo "x${SHARED}y" >&2')
    assert printed["stdout"] == "***\n" and printed["stderr"] == "x***y\n", printed
    run = srv.request("GET", f"/v1/servers/{a}/runs/{printed['run_id']}", acct.token).json()
    assert run["stdout"] == "***\n" and run["stderr"] == "x***y\n", run
    # And in the logs of background processes.
    background = sh(srv, acct.token, a, 'echo "log:$TOKEN"', background=True)
    for _ in range(100):
        if srv.request("GET", f"/v1/servers/{a}/runs/{background['id']}", acct.token).json()["state"] != "running":
            break
        time.sleep(0.1)
    texts = [line["text"] for line in srv.request("GET", f"/v1/servers/{a}/logs", acct.token).json()["lines"]]
    assert "log:***" in texts, texts
    # A server of another project never gets them.
    assert sh(srv, acct.token, c, 'test -z "$TOKEN" && test -z "$SHARED"')["exit_code"] == 0

    # No answer carries a value: lists, activity, runs.
    seen = "".join(srv.request("GET", path, acct.token).text for path in (
        f"/v1/projects/{project}/secrets", f"/v1/servers/{a}/secrets", "/v1/activity?limit=200",
        f"/v1/servers/{a}/runs?limit=200"))
    for v in (project_value, server_value, other_value):
        assert v not in seen
    actions = [e["action"] for e in srv.request("GET", "/v1/activity?limit=200", acct.token).json()["items"]]
    assert actions.count("secret.set") == 3

    # Nowhere on disk: database, WAL, bundles, logs, disk images; nor the master key in the database.
    srv.stop()
    needles = [v.encode() for v in (project_value, server_value, other_value)]
    assert files_containing(srv.data_dir, needles) == []
    key_text = (srv.data_dir / "master.key").read_text().strip()
    assert os.stat(srv.data_dir / "master.key").st_mode & 0o777 == 0o600
    database_files = [p for p in srv.data_dir.iterdir() if p.name.startswith("s4a.sqlite")]
    for p in database_files:
        data = p.read_bytes()
        assert key_text.encode() not in data and base64.b64decode(key_text) not in data, p


def test_bad_names_values_and_missing_scope_change_nothing(make_server):
    srv = make_server()
    acct, (project, _), (a, _) = setup(srv)
    for name in ("lower", "1ABC", "A-B", "PATH", "HOME", "PORT", "S4A_ANY", "A" * 129):
        r = put(srv, acct.token, f"/v1/projects/{project}/secrets/{name}", "v")
        assert r.status_code == 400 and r.headers["content-type"] == "application/problem+json", (name, r.text)
    assert put(srv, acct.token, f"/v1/servers/{a}/secrets/BIG", "x" * (64 * 1024 + 1)).status_code == 400
    for i in range(3):
        assert put(srv, acct.token, f"/v1/projects/{project}/secrets/PART{i}", "y" * (64 * 1024)).status_code == 200
    # A server's secrets count toward its project's 256 KiB: the fourth 64 KiB fills it, one byte more does not fit.
    assert put(srv, acct.token, f"/v1/servers/{a}/secrets/PART3", "y" * (64 * 1024)).status_code == 200
    too_much = put(srv, acct.token, f"/v1/projects/{project}/secrets/ONE_MORE", "z")
    assert too_much.status_code == 422, too_much.text
    assert srv.request("DELETE", f"/v1/servers/{a}/secrets/PART3", acct.token).status_code == 204
    names = [s["name"] for s in srv.request("GET", f"/v1/projects/{project}/secrets", acct.token).json()["items"]]
    assert names == ["PART0", "PART1", "PART2"]
    assert srv.request("GET", f"/v1/servers/{a}/secrets", acct.token).json()["items"] == []

    key = srv.request("POST", "/v1/api-keys", acct.token,
                      json={"name": "no-secrets", "scopes": ["projects:read", "servers:exec"]}).json()["token"]
    assert put(srv, key, f"/v1/projects/{project}/secrets/TOKEN", "v").status_code == 403
    assert srv.request("GET", f"/v1/projects/{project}/secrets", key).status_code == 403
    assert srv.request("DELETE", f"/v1/projects/{project}/secrets/PART0", key).status_code == 403
    stranger = signup_and_login(srv)
    assert put(srv, stranger.token, f"/v1/projects/{project}/secrets/TOKEN", "v").status_code == 404
    assert srv.request("DELETE", f"/v1/projects/{project}/secrets/NOPE", acct.token).status_code == 404
    assert srv.request("DELETE", f"/v1/projects/{project}/secrets/PART0", acct.token).status_code == 204


def serve_once(data_dir: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    """`s4a serve` expected to refuse to start."""
    return subprocess.run([str(s4a_bin()), "serve", "--data-dir", str(data_dir), "--listen", f"127.0.0.1:{free_port()}"],
                          env=clean_env(S4A_BCRYPT_COST="4", **env), capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)


def test_wrong_key_refuses_rotation_keeps_everything_and_the_old_key_opens_nothing(make_server, tmp_path):
    # The control plane is down through several steps here: a lease long enough that the
    # server is still running when it comes back, however slow the machine.
    srv = make_server(extra_args=["--lease-seconds", "60"])
    acct, (project, _), (a, _) = setup(srv)
    secret = value("rotate")
    assert put(srv, acct.token, f"/v1/projects/{project}/secrets/TOKEN", secret).status_code == 200
    srv.stop()
    database = srv.data_dir / "s4a.sqlite"
    before = hashlib.sha256(database.read_bytes()).hexdigest()

    wrong = serve_once(srv.data_dir, {"S4A_MASTER_KEY": base64.b64encode(os.urandom(32)).decode()})
    assert wrong.returncode != 0 and "master key" in (wrong.stdout + wrong.stderr), wrong
    assert hashlib.sha256(database.read_bytes()).hexdigest() == before, "a refused start changed nothing"

    new_key = tmp_path / "new.key"
    rotated = subprocess.run([str(s4a_bin()), "vault", "rotate-master-key", "--data-dir", str(srv.data_dir),
                              "--new-key-file", str(new_key)], capture_output=True, text=True, timeout=60, env=clean_env())
    assert rotated.returncode == 0, rotated
    assert os.stat(new_key).st_mode & 0o777 == 0o600
    old = serve_once(srv.data_dir, {})  # the default key file is the old key now
    assert old.returncode != 0 and "master key" in (old.stdout + old.stderr), old

    again = make_server.restart(srv, extra_args=["--master-key-file", str(new_key), "--lease-seconds", "60"])
    token = again.request("POST", "/v1/sessions", json={"email": acct.email, "password": acct.password}).json()["token"]
    ran = sh(again, token, a, f'test "$(printf %s "$TOKEN" | sha256sum | cut -d" " -f1)" = {sha(secret)}')
    assert ran["exit_code"] == 0, ran


def test_a_ciphertext_moved_to_another_row_does_not_open(make_server):
    srv = make_server()
    acct, (project, _), (a, _) = setup(srv)
    assert put(srv, acct.token, f"/v1/projects/{project}/secrets/FIRST", value("first")).status_code == 200
    assert put(srv, acct.token, f"/v1/projects/{project}/secrets/SECOND", value("second")).status_code == 200
    srv.stop()
    db = sqlite3.connect(srv.data_dir / "s4a.sqlite")
    sealed = db.execute("SELECT sealed FROM secrets WHERE name = 'FIRST'").fetchone()[0]
    db.execute("UPDATE secrets SET sealed = ? WHERE name = 'SECOND'", (sealed,))
    db.commit()
    db.close()
    again = make_server.restart(srv)
    token = again.request("POST", "/v1/sessions", json={"email": acct.email, "password": acct.password}).json()["token"]
    r = again.request("POST", f"/v1/servers/{a}/exec", token, json={"command": "env"})
    assert r.status_code == 503 and "SECOND" in r.json()["detail"], r.text
    runs = again.request("GET", f"/v1/servers/{a}/runs", token).json()["items"]
    assert runs == [], "nothing ran with a secret that failed to open"
