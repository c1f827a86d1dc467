"""SIGKILL the control plane while servers run; the next start finds them running, exec
works, a server killed meanwhile is marked failed, and nothing is orphaned."""

from __future__ import annotations

import os
import signal
import subprocess
import time

from conftest import runc_ids, signup_and_login


def mounts_of(data_dir, ids) -> list[str]:
    table = open("/proc/self/mountinfo").read()
    return [line.split()[4] for line in table.splitlines() if any(i in line for i in ids)]


def loops_of(data_dir) -> list[str]:
    out = subprocess.run(["losetup", "--list", "--noheadings", "--output", "BACK-FILE"], capture_output=True, text=True)
    return [line for line in out.stdout.splitlines() if str(data_dir) in line]


def test_sigkill_then_restart_adopts_servers_and_orphans_nothing(make_server):
    srv = make_server()
    acct = signup_and_login(srv)
    project = srv.request("POST", "/v1/projects", acct.token, json={"name": "restart"}).json()["id"]
    ids = []
    for name in ("kept", "killed", "deleted"):
        r = srv.request("POST", "/v1/servers", acct.token,
                        json={"project_id": project, "name": name, "budget_usd": "1", "memory_mb": 64, "disk_mb": 64})
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    kept, killed, deleted = ids
    r = srv.request("POST", f"/v1/servers/{kept}/exec", acct.token, json={"command": "echo before > /root/f"})
    assert r.json()["exit_code"] == 0
    # A background process under its supervisor: it prints until /tmp/go appears.
    r = srv.request("POST", f"/v1/servers/{kept}/exec", acct.token, json={
        "command": "echo up; while [ ! -e /tmp/go ]; do sleep 0.1; done; echo after-restart; exit 5", "background": True})
    assert r.status_code == 202, r.text
    background = r.json()["id"]

    srv.process.send_signal(signal.SIGKILL)
    srv.process.wait(timeout=10)
    assert runc_ids(srv.data_dir) == sorted(ids), "servers outlive the control plane"
    # Meanwhile one container dies and one server's row is gone from under it (a stray).
    subprocess.run(["runc", "--root", str(srv.data_dir / "runtime" / "runc"), "delete", "--force", killed], check=True)
    import sqlite3
    db = sqlite3.connect(srv.data_dir / "s4a.sqlite")
    db.execute("UPDATE servers SET state = 'deleted', uid_slot = NULL WHERE id = ?", (deleted,))
    db.commit()
    db.close()

    again = make_server.restart(srv)
    token = again.request("POST", "/v1/sessions", json={"email": acct.email, "password": acct.password}).json()["token"]
    assert again.request("GET", f"/v1/servers/{kept}", token).json()["state"] == "running"
    r = again.request("POST", f"/v1/servers/{kept}/exec", token, json={"command": "cat /root/f"})
    assert r.json()["stdout"] == "before\n", r.text
    assert again.request("GET", f"/v1/servers/{killed}", token).json()["state"] == "failed"
    # The background process lived through it, under the same supervisor, and still logs.
    assert again.request("GET", f"/v1/servers/{kept}/runs/{background}", token).json()["state"] == "running"
    assert again.request("POST", f"/v1/servers/{kept}/exec", token, json={"command": "touch /tmp/go"}).json()["exit_code"] == 0
    for _ in range(100):
        run = again.request("GET", f"/v1/servers/{kept}/runs/{background}", token).json()
        if run["state"] != "running":
            break
        time.sleep(0.1)
    assert (run["state"], run.get("exit_code")) == ("exited", 5), run
    texts = [line["text"] for line in again.request("GET", f"/v1/servers/{kept}/logs", token).json()["lines"]]
    assert texts.index("up") < texts.index("after-restart") < texts.index("exited with code 5"), texts
    # The stray is gone: container, mounts, loop device and disk.
    assert runc_ids(again.data_dir) == [kept]
    assert mounts_of(again.data_dir, [deleted, killed]) == []
    assert not (again.data_dir / "runtime" / "servers" / deleted).exists()
    assert len(loops_of(again.data_dir)) == 1, loops_of(again.data_dir)
    # Nothing supervises anything any more (a supervisor leaves a second after its last process
    # ended); the running server kept its one lease watchdog.
    for _ in range(50):
        if not [p for p in supervisors() if kept in p or killed in p]:
            break
        time.sleep(0.1)
    assert [p for p in supervisors() if kept in p or killed in p] == []
    assert len([p for p in supervisors(watchdogs=True) if kept in p]) == 1


def supervisors(watchdogs: bool = False) -> list[str]:
    """`s4a supervise` processes: process supervisors, or (`watchdogs`) lease watchdogs."""
    found = []
    for pid in os.listdir("/proc"):
        try:
            args = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")
        except OSError:
            continue
        if len(args) > 3 and args[1] == b"supervise" and (args[3] == b"--lease") == watchdogs:
            found.append(b" ".join(args).decode())
    return found


def test_sigterm_ends_open_log_streams(make_server):
    """A client following a running server's logs does not hold a graceful shutdown open."""
    import requests

    srv = make_server()
    acct = signup_and_login(srv)
    project = srv.request("POST", "/v1/projects", acct.token, json={"name": "follow"}).json()["id"]
    sid = srv.request("POST", "/v1/servers", acct.token,
                      json={"project_id": project, "name": "f", "budget_usd": "1", "memory_mb": 64, "disk_mb": 64}).json()["id"]
    stream = requests.get(srv.url(f"/v1/servers/{sid}/logs?follow=true"), headers={"Authorization": f"Bearer {acct.token}"},
                          verify=str(srv.ca), stream=True, timeout=30)
    assert stream.status_code == 200 and stream.headers["content-type"] == "text/event-stream"
    started = time.monotonic()
    srv.process.send_signal(signal.SIGTERM)
    assert srv.process.wait(timeout=15) == 0, srv.log()
    assert time.monotonic() - started < 15
    stream.close()
