"""The anchored audit trail, black-box: `s4a serve` writes signed checkpoints of every
activity chain to <data-dir>/audit/checkpoints.jsonl (outside the database) and seals each
event with a MAC under a key derived from the master key; the audit export ends with the
chain's checkpoint, whose Ed25519 signature checks here with the `cryptography` package. Then
the SQLite file is tampered with, as anyone with the database but not the key can: truncation,
deletion of a whole chain, an edit with the plain chain recomputed, the MAC column forged
too. `s4a activity verify` must name the check that failed, the account and the seq, and exit 1."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import shutil
import sqlite3
import stat
from datetime import datetime, timezone
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from conftest import Cli, Server, signup_and_login
from test_activity_export import chain_hash, export, jsonl, verify


def activity(srv: Server, token: str, renames: int) -> str:
    r = srv.request("POST", "/v1/projects", token, json={"name": "Audited"})
    assert r.status_code == 201, r.text
    project = r.json()["id"]
    for i in range(renames):
        r = srv.request("PATCH", f"/v1/projects/{project}", token, json={"name": f"Audited {i}"})
        assert r.status_code == 200, r.text
    return project


def account_id(srv: Server, token: str) -> str:
    return srv.request("GET", "/v1/account", token).json()["id"]


@pytest.fixture
def anchored(make_server, tmp_path):
    """A stopped server whose two accounts made events that the shutdown checkpointed; returns
    (server, the target account's id, the bystander's id, the exported JSON lines)."""
    srv = make_server()
    target = signup_and_login(srv)
    activity(srv, target.token, renames=4)
    bystander = signup_and_login(srv)
    activity(srv, bystander.token, renames=1)
    target_id, bystander_id = account_id(srv, target.token), account_id(srv, bystander.token)
    srv.stop()  # the last checkpoint round runs at shutdown
    srv = make_server.restart(srv)
    lines = [json.loads(line) for line in export(srv, target.token).text.splitlines()]
    srv.stop()
    return srv, target_id, bystander_id, lines


def checkpoints(data_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (data_dir / "audit" / "checkpoints.jsonl").read_text().splitlines()]


def copy_of(srv: Server, tmp_path: Path, name: str) -> Path:
    """What verify reads, copied: each attack gets its own database."""
    d = tmp_path / name
    d.mkdir()
    for item in ["s4a.sqlite", "master.key"]:
        shutil.copy2(srv.data_dir / item, d / item)
    shutil.copytree(srv.data_dir / "audit", d / "audit")
    return d


def run_verify(cli: Cli, data_dir: Path, *extra: str):
    return cli.run("activity", "verify", "--data-dir", str(data_dir), *extra)


def failures(cli: Cli, data_dir: Path) -> list[dict]:
    p = run_verify(cli, data_dir, "--json")
    assert p.returncode == 1, p.stdout + p.stderr
    report = json.loads(p.stdout)
    assert report["ok"] is False
    return report["failures"]


def test_checkpoints_live_outside_the_database_and_close_the_export(anchored):
    srv, target, bystander, lines = anchored
    path = srv.data_dir / "audit" / "checkpoints.jsonl"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    heads = {c["account_id"]: c for c in checkpoints(srv.data_dir) if c["kind"] == "head"}
    assert {target, bystander} <= heads.keys()

    # The export: the events, then the chain's latest checkpoint, signed with Ed25519.
    events, trailer = lines[:-1], lines[-1]
    verify(events)
    assert trailer["type"] == "checkpoint", trailer
    cp = trailer["checkpoint"]
    assert cp["account_id"] == target and cp == heads[target]
    assert events[cp["seq"] - 1]["hash"] == cp["hash"] and events[-1]["seq"] >= cp["seq"]
    public = Ed25519PublicKey.from_public_bytes(base64.b64decode(trailer["public_key"]))
    message = "\n".join(["s4a audit checkpoint v1", cp["kind"], cp["account_id"], str(cp["seq"]), cp["hash"], cp["at"],
                         cp["key_id"]]).encode()
    public.verify(base64.b64decode(cp["sig"]), message)  # raises if forged
    assert hashlib.sha256(base64.b64decode(trailer["public_key"])).hexdigest()[:16] == cp["key_id"]


def test_an_untouched_trail_verifies(anchored, cli):
    srv, *_ = anchored
    ok = run_verify(cli, srv.data_dir)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.startswith("OK:") and "BROKEN" not in ok.stdout


def test_deleting_the_last_events_is_truncation(anchored, cli, tmp_path):
    srv, target, bystander, _ = anchored
    d = copy_of(srv, tmp_path, "truncated")
    with sqlite3.connect(d / "s4a.sqlite") as con:
        top = con.execute("SELECT MAX(seq) FROM activity_events WHERE account_id = ?", (target,)).fetchone()[0]
        con.execute("DELETE FROM activity_events WHERE account_id = ? AND seq > ?", (target, top - 2))
    found = failures(cli, d)
    assert [(f["check"], f["account_id"], f["seq"]) for f in found] == [("checkpoint_truncated", target, top)], found
    text = run_verify(cli, d).stdout
    assert "checkpoint: truncated" in text and target in text and bystander not in text, text


def test_deleting_all_of_an_accounts_events_is_seen(anchored, cli, tmp_path):
    srv, target, _, _ = anchored
    d = copy_of(srv, tmp_path, "deleted")
    with sqlite3.connect(d / "s4a.sqlite") as con:
        con.execute("DELETE FROM activity_events WHERE account_id = ?", (target,))
    found = failures(cli, d)
    assert [(f["check"], f["account_id"]) for f in found] == [("checkpoint_missing_account", target)], found


def rfc3339(ms: int) -> str:
    return datetime.fromtimestamp(ms // 1000, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S") + f".{ms % 1000:03d}Z"


def rewrite(db: Path, account: str, seq: int, forge_mac: bool) -> str:
    """Edits one event, recomputes every later hash exactly as the chain does; with
    `forge_mac`, also writes MACs under a key of the attacker's. Returns the event's id."""
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    rows = [dict(r) for r in con.execute("SELECT * FROM activity_events WHERE account_id = ? ORDER BY seq", (account,))]
    prev = rows[seq - 2]["hash"]
    with con:
        for row in rows[seq - 1:]:
            meta = json.loads(row["metadata"])
            if row["seq"] == seq:
                meta["name"] = "Forged"
            event = {"prev_hash": prev, "account_id": account, "seq": row["seq"], "id": row["id"], "at": rfc3339(row["at"]),
                     "action": row["action"], "actor": {"type": row["actor_type"], "id": row["actor_id"]},
                     "target": {"type": row["target_type"], "id": row["target_id"]}, "project_id": row["project_id"],
                     "metadata": meta}
            new_hash = chain_hash(event)
            mac = hmac.new(b"not the master key", f"s4a activity event v1\n{new_hash}".encode(), "sha256").hexdigest() \
                if forge_mac else row["mac"]
            con.execute("UPDATE activity_events SET metadata = ?, prev_hash = ?, hash = ?, mac = ? WHERE id = ?",
                        (json.dumps(meta, sort_keys=True, separators=(",", ":")), prev, new_hash, mac, row["id"]))
            prev = new_hash
    con.close()
    return rows[seq - 1]["id"]


@pytest.mark.parametrize("forge_mac", [False, True], ids=["macs-kept", "macs-forged"])
def test_an_edit_with_the_chain_recomputed_fails_its_mac_and_the_checkpoint(anchored, cli, tmp_path, forge_mac):
    srv, target, _, _ = anchored
    d = copy_of(srv, tmp_path, f"rewritten-{forge_mac}")
    edited = rewrite(d / "s4a.sqlite", target, 3, forge_mac)
    found = failures(cli, d)
    assert [f["check"] for f in found] == ["mac", "checkpoint_rewritten"], found
    assert found[0]["seq"] == 3 and found[0]["event_id"] == edited and found[0]["account_id"] == target
    # The hash chain alone is fooled: no hash_chain failure, which is the point of the anchor.
    out = run_verify(cli, d)
    assert out.returncode == 1 and "BROKEN: MAC" in out.stdout and edited in out.stdout, out.stdout


def test_a_start_on_a_tampered_store_does_not_anchor_it(anchored, make_server, cli):
    srv, target, _, _ = anchored
    with sqlite3.connect(srv.sqlite_path) as con:
        top = con.execute("SELECT MAX(seq) FROM activity_events WHERE account_id = ?", (target,)).fetchone()[0]
        con.execute("DELETE FROM activity_events WHERE account_id = ? AND seq = ?", (target, top))
    before = checkpoints(srv.data_dir)
    again = make_server.restart(srv)
    again.stop()
    assert "checkpoint_truncated" in again.log(), again.log()
    after = [c for c in checkpoints(srv.data_dir)[len(before):] if c["account_id"] == target]
    assert after == [], after  # the shorter chain was not signed
    assert [f["check"] for f in failures(cli, srv.data_dir)] == ["checkpoint_truncated"]


def test_verify_without_the_master_key_fails_plainly(anchored, cli, tmp_path):
    srv, *_ = anchored
    d = copy_of(srv, tmp_path, "keyless")
    (d / "master.key").unlink()
    p = run_verify(cli, d)
    assert p.returncode != 0
    assert "master key" in (p.stdout + p.stderr)


def test_an_account_deleted_on_purpose_is_not_taken_for_tampering(make_server, cli):
    srv = make_server()
    leaving = signup_and_login(srv)
    activity(srv, leaving.token, renames=1)
    staying = signup_and_login(srv)
    activity(srv, staying.token, renames=1)
    leaving_id = account_id(srv, leaving.token)
    srv.stop()
    srv = make_server.restart(srv)  # its checkpoint now holds the leaving account's chain
    r = srv.request("DELETE", "/v1/account", leaving.token, json={"password": leaving.password})
    assert r.status_code == 204, r.text
    srv.stop()
    lines = checkpoints(srv.data_dir)
    assert any(c["account_id"] == leaving_id and c["kind"] == "head" for c in lines)
    assert [c["kind"] for c in lines if c["account_id"] == leaving_id][-1] == "deleted"
    with sqlite3.connect(srv.sqlite_path) as con:
        assert con.execute("SELECT count(*) FROM activity_events WHERE account_id = ?", (leaving_id,)).fetchone()[0] == 0
    ok = run_verify(cli, srv.data_dir)
    assert ok.returncode == 0, ok.stdout + ok.stderr


def test_verify_on_a_store_from_before_the_macs_says_so(anchored, cli, tmp_path):
    srv, *_ = anchored
    d = copy_of(srv, tmp_path, "old")
    with sqlite3.connect(d / "s4a.sqlite") as con:
        con.execute("ALTER TABLE activity_events DROP COLUMN mac")
        con.execute("DELETE FROM schema_migrations WHERE version = 11")
    p = run_verify(cli, d)
    assert p.returncode == 1 and "predates" in p.stdout + p.stderr, p.stdout + p.stderr
