"""Account and project deletion through the real binary: servers, mounts, loop devices,
cgroups and disks gone; no row in the SQLite file names the account, its projects, servers,
keys or sessions; and crypto-shredding: a secret's ciphertext and its wrapped data key, copied
out of the database (a backup) before deletion, no longer open with the master key after it."""

from __future__ import annotations

import base64
import glob
import os
import secrets
import sqlite3
import subprocess
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from conftest import PASSWORD, Server, runc_ids, signup_and_login


# ---------------------------------------------------------------------------- the vault, in Python

def open_sealed(key: bytes, sealed: bytes, context: str) -> bytes:
    """Envelope.open: AES-256-GCM, nonce ‖ ciphertext ‖ tag, the context as associated data."""
    return AESGCM(key).decrypt(sealed[:12], sealed[12:], context.encode())


def unwrap(kek: bytes, project: str, wrapped: bytes, version: int, key_dir: Path) -> bytes:
    """A project's data key as an attacker with the master key and `key_dir` would open it."""
    if version == 1:
        return open_sealed(kek, wrapped, f"dek|{project}")
    shred_file = key_dir / f"{project}.key"
    if not shred_file.exists():
        raise FileNotFoundError(shred_file)
    wrapping = HKDF(algorithm=hashes.SHA256(), length=32, salt=shred_file.read_bytes(),
                    info=f"s4a project data key wrap v2|{project}".encode()).derive(kek)
    return open_sealed(wrapping, wrapped, f"dek2|{project}")


def open_secret(kek: bytes, key_dir: Path, backup: dict, secret: dict) -> str:
    project = secret["project_id"]
    wrapped, version = backup["keys"][project]
    dek = unwrap(kek, project, wrapped, version, key_dir)
    server = secret["server_id"]
    scope = "server" if server else "project"
    context = f"secret|{project}|{scope}|{server}|{secret['name']}"
    return open_sealed(dek, secret["sealed"], context).decode()


def vault_backup(db: Path) -> dict:
    """What a database backup holds of the vault: every wrapped data key and sealed secret."""
    with sqlite3.connect(db) as conn:
        keys = {p: (base64.b64decode(w), v) for p, w, v in
                conn.execute("SELECT project_id, wrapped_key, wrap_version FROM project_keys")}
        rows = [dict(project_id=p, server_id=s, name=n, sealed=base64.b64decode(x)) for p, s, n, x in
                conn.execute("SELECT project_id, server_id, name, sealed FROM secrets")]
    return {"keys": keys, "secrets": rows}


# ---------------------------------------------------------------------------- the host

def host_traces(data_dir: Path, server_ids: list[str]) -> list[str]:
    """Everything of these servers the host still has: containers, mounts, loop devices,
    cgroups, server directories (disk images), supervisor processes."""
    found = [f"container {i}" for i in runc_ids(data_dir) if i in server_ids]
    mountinfo = open("/proc/self/mountinfo").read()
    found += [f"mount {line.split()[4]}" for line in mountinfo.splitlines() if any(i in line for i in server_ids)]
    loops = subprocess.run(["losetup", "--list", "--noheadings", "--output", "NAME,BACK-FILE"],
                           capture_output=True, text=True).stdout
    found += [f"loop {line}" for line in loops.splitlines() if any(i in line for i in server_ids)]
    for i in server_ids:
        found += [f"cgroup {p}" for p in glob.glob(f"/sys/fs/cgroup/**/s4a/{i}", recursive=True)]
        server_dir = data_dir / "runtime" / "servers" / i
        if server_dir.exists():
            found.append(f"directory {server_dir}")
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    found += [f"process {line}" for line in ps.splitlines() if any(i in line for i in server_ids)]
    return found


def rows_naming(db: Path, needles: list[str]) -> list[str]:
    """Every row of every table with a column holding any needle."""
    hits = []
    with sqlite3.connect(db) as conn:
        tables = [t for (t,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            for row in conn.execute(f'SELECT * FROM "{table}"'):
                text = " ".join(str(v) for v in row)
                if any(n in text for n in needles):
                    hits.append(f"{table}: {text[:200]}")
    return hits


# ---------------------------------------------------------------------------- fixtures

def make_account(srv: Server, servers: int = 1):
    """An account with two projects, a server in each (the second stopped), secrets of both
    scopes, a run, a background process with logs, and an API key."""
    acct = signup_and_login(srv)
    projects, server_ids, values = [], [], []
    for name in ("alpha", "beta"):
        r = srv.request("POST", "/v1/projects", acct.token, json={"name": name})
        assert r.status_code == 201, r.text
        projects.append(r.json()["id"])
    for project in projects[:servers] if servers == 1 else projects:
        r = srv.request("POST", "/v1/servers", acct.token,
                        json={"project_id": project, "name": "s", "budget_usd": "1", "memory_mb": 64, "disk_mb": 64})
        assert r.status_code == 201, r.text
        server_ids.append(r.json()["id"])
    for project in projects:
        v = f"proj-{secrets.token_hex(12)}"
        assert srv.request("PUT", f"/v1/projects/{project}/secrets/TOKEN", acct.token, json={"value": v}).status_code == 200
        values.append(v)
    v = f"srv-{secrets.token_hex(12)}"
    assert srv.request("PUT", f"/v1/servers/{server_ids[0]}/secrets/OWN", acct.token, json={"value": v}).status_code == 200
    values.append(v)
    r = srv.request("POST", f"/v1/servers/{server_ids[0]}/exec", acct.token, json={"command": "echo $TOKEN; echo hi > /root/f"})
    assert r.status_code == 200 and r.json()["exit_code"] == 0, r.text
    r = srv.request("POST", f"/v1/servers/{server_ids[0]}/exec", acct.token,
                    json={"command": "while :; do echo tick; sleep 1; done", "background": True})
    assert r.status_code in (200, 202), r.text
    if len(server_ids) > 1:
        assert srv.request("POST", f"/v1/servers/{server_ids[1]}/stop", acct.token).status_code == 200
    r = srv.request("POST", "/v1/api-keys", acct.token, json={"name": "agent", "scopes": ["projects:read"]})
    assert r.status_code == 201, r.text
    key = r.json()
    return acct, projects, server_ids, values, key


def account_id(srv: Server, token: str) -> str:
    r = srv.request("GET", "/v1/account", token)
    assert r.status_code == 200, r.text
    return r.json()["id"]


# ---------------------------------------------------------------------------- tests

def test_account_deletion_leaves_no_server_row_or_openable_secret(make_server):
    srv = make_server()
    acct, projects, server_ids, values, key = make_account(srv, servers=2)
    me = account_id(srv, acct.token)
    # A bystander on the same platform keeps everything.
    other, other_projects, other_servers, other_values, _ = make_account(srv)

    kek = base64.b64decode((srv.data_dir / "master.key").read_text().strip())
    key_dir = srv.data_dir / "project-keys"
    backup = vault_backup(srv.sqlite_path)
    mine = [s for s in backup["secrets"] if s["project_id"] in projects]
    assert len(mine) == 3
    assert all(backup["keys"][p][1] == 2 for p in projects), "data keys are not bound to shred keys"
    # Control: before deletion the backup and the master key open every secret.
    assert sorted(open_secret(kek, key_dir, backup, s) for s in mine) == sorted(values)

    # A wrong password changes nothing.
    r = srv.request("DELETE", "/v1/account", acct.token, json={"password": "not it"})
    assert r.status_code == 403 and r.headers["Content-Type"].startswith("application/problem+json"), r.text
    assert srv.request("GET", "/v1/projects", key["token"]).status_code == 200
    # An API key may not delete the account.
    r = srv.request("DELETE", "/v1/account", key["token"], json={"password": PASSWORD})
    assert r.status_code == 403, r.text
    assert srv.request("GET", f"/v1/servers/{server_ids[0]}", acct.token).json()["state"] == "running"

    r = srv.request("DELETE", "/v1/account", acct.token, json={"password": PASSWORD})
    assert r.status_code == 204, r.text
    assert "Max-Age=0" in r.headers["Set-Cookie"]

    # Its session and key fail on their very next request; signing in fails too.
    assert srv.request("GET", "/v1/account", acct.token).status_code == 401
    assert srv.request("GET", "/v1/projects", key["token"]).status_code == 401
    r = srv.request("POST", "/v1/sessions", json={"email": acct.email, "password": PASSWORD})
    assert r.status_code == 401, r.text

    # Nothing of its servers is left on the host.
    assert host_traces(srv.data_dir, server_ids) == []
    assert not [p for p in key_dir.iterdir() if p.stem in projects]

    # No row names the account, its email, projects, servers, key or secrets' names' owners.
    needles = [me, acct.email, key["key"]["id"], *projects, *server_ids]
    assert rows_naming(srv.sqlite_path, needles) == []

    # The backup's wrapped keys no longer open: their shred keys are gone, and the master key
    # alone never opened them.
    for s in mine:
        try:
            open_secret(kek, key_dir, backup, s)
            raise AssertionError("a deleted account's secret still opens")
        except FileNotFoundError:
            pass
        wrapped, _ = backup["keys"][s["project_id"]]
        try:
            open_sealed(kek, wrapped, f"dek|{s['project_id']}")
            raise AssertionError("the master key alone opens a wrapped data key")
        except InvalidTag:
            pass

    # The bystander is untouched: its secrets still reach its server.
    r = srv.request("POST", f"/v1/servers/{other_servers[0]}/exec", other.token,
                    json={"command": f'test "$TOKEN" = {other_values[0]} && test "$OWN" = {other_values[2]}'})
    assert r.status_code == 200 and r.json()["exit_code"] == 0, r.text
    assert rows_naming(srv.sqlite_path, other_projects), "the bystander's rows went too"


def test_a_deletion_cut_short_is_finished_by_the_next_start(make_server):
    srv = make_server()
    acct, projects, server_ids, _, key = make_account(srv, servers=2)
    me = account_id(srv, acct.token)
    srv.stop()
    # The state right after the first committed step (a crash before servers were destroyed):
    # marked, credentials and wrapped keys gone, servers still running.
    with sqlite3.connect(srv.sqlite_path) as conn:
        conn.execute("UPDATE accounts SET deleting_at = 1 WHERE id = ?", (me,))
        for table in ("sessions", "api_keys"):
            conn.execute(f"DELETE FROM {table} WHERE account_id = ?", (me,))
        for project in projects:
            conn.execute("DELETE FROM secrets WHERE project_id = ?", (project,))
            conn.execute("DELETE FROM project_keys WHERE project_id = ?", (project,))
    assert server_ids[0] in runc_ids(srv.data_dir)

    srv = make_server.restart(srv)
    assert host_traces(srv.data_dir, server_ids) == []
    assert rows_naming(srv.sqlite_path, [me, acct.email, *projects, *server_ids]) == []
    assert not [p for p in (srv.data_dir / "project-keys").iterdir() if p.stem in projects]


def test_project_deletion_shreds_its_key_first_and_keeps_the_rest(make_server):
    srv = make_server()
    acct, projects, server_ids, values, _ = make_account(srv, servers=2)
    gone, kept = projects
    kek = base64.b64decode((srv.data_dir / "master.key").read_text().strip())
    key_dir = srv.data_dir / "project-keys"
    backup = vault_backup(srv.sqlite_path)
    gone_secret = next(s for s in backup["secrets"] if s["project_id"] == gone and not s["server_id"])
    assert open_secret(kek, key_dir, backup, gone_secret) == values[0]

    r = srv.request("DELETE", f"/v1/projects/{gone}", acct.token)
    assert r.status_code == 204, r.text
    assert host_traces(srv.data_dir, [server_ids[0]]) == []
    assert not (key_dir / f"{gone}.key").exists()
    try:
        open_secret(kek, key_dir, backup, gone_secret)
        raise AssertionError("a deleted project's secret still opens")
    except FileNotFoundError:
        pass
    # Only the account's own trail names it (the chain cannot lose events).
    hits = rows_naming(srv.sqlite_path, [gone, server_ids[0]])
    assert hits and all(h.startswith("activity_events:") for h in hits), hits
    actions = [e["action"] for e in srv.request("GET", "/v1/activity?limit=200", acct.token).json()["items"]]
    assert actions.index("project.deleted") < actions.index("project.data_key_destroyed"), actions

    # The other project's secrets still open and reach its server.
    assert (key_dir / f"{kept}.key").exists()
    assert srv.request("POST", f"/v1/servers/{server_ids[1]}/start", acct.token).status_code == 200
    r = srv.request("POST", f"/v1/servers/{server_ids[1]}/exec", acct.token, json={"command": f'test "$TOKEN" = {values[1]}'})
    assert r.status_code == 200 and r.json()["exit_code"] == 0, r.text


def test_wrong_passwords_are_throttled(make_server):
    srv = make_server()
    acct = signup_and_login(srv)
    for _ in range(5):
        assert srv.request("DELETE", "/v1/account", acct.token, json={"password": "wrong"}).status_code == 403
    r = srv.request("DELETE", "/v1/account", acct.token, json={"password": PASSWORD})
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0, r.text
    r = srv.request("POST", "/v1/account/export", acct.token, json={"password": PASSWORD})
    assert r.status_code == 429, r.text
    assert srv.request("GET", "/v1/account", acct.token).status_code == 200


def test_existing_data_keys_get_shred_keys_at_start(make_server):
    """A data key from before shred keys (wrapped by the master key alone) is rewrapped at the
    next start, and its secret still opens."""
    srv = make_server()
    acct, projects, server_ids, values, _ = make_account(srv)
    srv.stop()
    kek = base64.b64decode((srv.data_dir / "master.key").read_text().strip())
    key_dir = srv.data_dir / "project-keys"
    backup = vault_backup(srv.sqlite_path)
    # Turn the first project's key back into a version 1 wrap, as an older release stored it.
    wrapped, _ = backup["keys"][projects[0]]
    dek = unwrap(kek, projects[0], wrapped, 2, key_dir)
    nonce = os.urandom(12)
    legacy = nonce + AESGCM(kek).encrypt(nonce, dek, f"dek|{projects[0]}".encode())
    with sqlite3.connect(srv.sqlite_path) as conn:
        conn.execute("UPDATE project_keys SET wrapped_key = ?, wrap_version = 1 WHERE project_id = ?",
                     (base64.b64encode(legacy).decode(), projects[0]))
    (key_dir / f"{projects[0]}.key").unlink()

    srv = make_server.restart(srv)
    after = vault_backup(srv.sqlite_path)
    assert after["keys"][projects[0]][1] == 2
    assert (key_dir / f"{projects[0]}.key").exists()
    r = srv.request("POST", f"/v1/servers/{server_ids[0]}/exec", acct.token,
                    json={"command": f'test "$TOKEN" = {values[0]}'})
    assert r.status_code == 200 and r.json()["exit_code"] == 0, r.text
