"""Un-overspendable budgets through the real binary and real runc: prepaid leases against the
cap, a watchdog next to each server that stops it at its deadline, and a ledger that stays
consistent through a SIGKILL of the control plane."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time

from conftest import Server, signup_and_login

RATE_1CPU_512MIB = 16.25  # µ$ per second at the default prices (14 per vCPU-s, 4.5 per GiB-s)


def ledger(srv: Server, server_id: str) -> dict[str, int]:
    db = sqlite3.connect(srv.data_dir / "s4a.sqlite")
    try:
        rows = db.execute("SELECT kind, SUM(amount_micros) FROM ledger_entries WHERE server_id = ? GROUP BY kind",
                          (server_id,)).fetchall()
        open_leases = db.execute("SELECT COUNT(*) FROM leases WHERE server_id = ? AND settled_at IS NULL",
                                 (server_id,)).fetchone()[0]
        per_lease = db.execute("SELECT lease_id, kind, COUNT(*) FROM ledger_entries WHERE server_id = ? "
                               "GROUP BY lease_id, kind HAVING COUNT(*) > 1", (server_id,)).fetchall()
    finally:
        db.close()
    totals = {kind: total for kind, total in rows}
    totals["open_leases"] = open_leases
    totals["duplicates"] = len(per_lease)
    return totals


def runc_status(srv: Server, server_id: str) -> str | None:
    out = subprocess.run(["runc", "--root", str(srv.data_dir / "runtime" / "runc"), "state", server_id],
                         capture_output=True, text=True)
    return json.loads(out.stdout)["status"] if out.returncode == 0 else None


def server_processes(server_id: str) -> list[int]:
    """Host pids of live processes in the server's cgroup (an exited init waiting for the host's
    pid 1 to reap it is a zombie: it runs nothing)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = open(f"/proc/{entry}/stat").read()
                if f"/s4a/{server_id}\n" in open(f"/proc/{entry}/cgroup").read() and stat.rsplit(")", 1)[1].split()[0] != "Z":
                    found.append(int(entry))
            except OSError:
                pass
    return found


def burning_server(srv: Server, token: str, budget: str) -> str:
    project = srv.request("POST", "/v1/projects", token, json={"name": "budget"}).json()["id"]
    r = srv.request("POST", "/v1/servers", token,
                    json={"project_id": project, "name": "burn", "budget_usd": budget, "memory_mb": 512, "disk_mb": 64})
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    r = srv.request("POST", f"/v1/servers/{sid}/exec", token, json={"command": "while :; do :; done", "background": True})
    assert r.status_code == 202, r.text
    return sid


def test_a_server_stops_exhausted_at_its_cap_to_the_micro_dollar(make_server):
    srv = make_server(extra_args=["--lease-seconds", "1"])
    acct = signup_and_login(srv)
    cap = 50  # µ$: about three seconds of 1 vCPU and 512 MiB
    sid = burning_server(srv, acct.token, "0.000050")
    for _ in range(100):
        server = srv.request("GET", f"/v1/servers/{sid}", acct.token).json()
        if server["state"] != "running":
            break
        time.sleep(0.2)
    assert server["state"] == "exhausted", server
    money = ledger(srv, sid)
    assert money["charge"] <= cap, money
    assert money["charge"] >= cap - RATE_1CPU_512MIB * 1.5, money  # it ran for (nearly) what it paid for
    assert money["reserve"] == money["charge"] + money["release"], money
    assert money["open_leases"] == 0 and money["duplicates"] == 0, money
    assert runc_status(srv, sid) is None, "its processes are gone"
    actions = [e["action"] for e in srv.request("GET", "/v1/activity?limit=50", acct.token).json()["items"]]
    assert "server.budget_exhausted" in actions and actions.count("server.budget_warning") == 2, actions
    refused = srv.request("POST", f"/v1/servers/{sid}/start", acct.token)
    assert refused.status_code == 409, refused.text


def test_sigkill_of_the_control_plane_cannot_overspend(make_server):
    lease = 2
    srv = make_server(extra_args=["--lease-seconds", str(lease)])
    acct = signup_and_login(srv)
    sid = burning_server(srv, acct.token, "1")  # far more than the test runs for
    time.sleep(1.5)
    assert runc_status(srv, sid) == "running"
    srv.process.send_signal(signal.SIGKILL)
    srv.process.wait(timeout=10)
    killed = time.monotonic()
    # Nobody renews the lease: the watchdog stops the server by its deadline (at most one lease on).
    while runc_status(srv, sid) == "running" and time.monotonic() - killed < lease + 5:
        time.sleep(0.05)
    stopped_after = time.monotonic() - killed
    assert runc_status(srv, sid) != "running", "the server outlived its lease"
    assert stopped_after <= lease + 0.5, stopped_after
    # All its processes are gone (the last exit a moment after init's): nothing left to use the CPU.
    for _ in range(20):
        if not server_processes(sid):
            break
        time.sleep(0.05)
    assert server_processes(sid) == []
    assert time.monotonic() - killed <= lease + 1.5

    again = make_server.restart(srv, extra_args=["--lease-seconds", str(lease)])
    token = again.request("POST", "/v1/sessions", json={"email": acct.email, "password": acct.password}).json()["token"]
    server = again.request("GET", f"/v1/servers/{sid}", token).json()
    assert server["state"] == "stopped" and "lease" in server.get("last_error", ""), server
    money = ledger(again, sid)
    assert money["reserve"] == money["charge"] + money["release"], money
    assert money["open_leases"] == 0 and money["duplicates"] == 0, money
    assert money["charge"] <= 1_000_000, money
    # It can be started again, and metering goes on.
    assert again.request("POST", f"/v1/servers/{sid}/start", token).json()["state"] == "running"


def test_raising_a_budget_needs_the_scope_and_stays_under_the_keys_ceiling(make_server, cli_factory):
    srv = make_server(extra_args=["--lease-seconds", "1"])
    acct = signup_and_login(srv)
    sid = burning_server(srv, acct.token, "0.000040")
    for _ in range(100):
        if srv.request("GET", f"/v1/servers/{sid}", acct.token).json()["state"] == "exhausted":
            break
        time.sleep(0.2)
    capped = srv.request("POST", "/v1/api-keys", acct.token, json={
        "name": "capped", "scopes": ["servers:read", "servers:write", "budget:write"], "max_server_budget_usd": "1"}).json()["token"]
    plain = srv.request("POST", "/v1/api-keys", acct.token, json={
        "name": "plain", "scopes": ["servers:read", "servers:write"]}).json()["token"]
    assert srv.request("PATCH", f"/v1/servers/{sid}", plain, json={"budget_usd": "0.5"}).status_code == 403
    assert srv.request("PATCH", f"/v1/servers/{sid}", capped, json={"budget_usd": "1.01"}).status_code == 403
    assert srv.request("PATCH", f"/v1/servers/{sid}", capped, json={"budget_usd": "0.000001"}).status_code == 422
    assert srv.request("PATCH", f"/v1/servers/{sid}", capped, json={"budget_usd": "lots"}).status_code == 400
    assert srv.request("GET", f"/v1/servers/{sid}", acct.token).json()["budget_usd"] == "0.00004"
    # The creation ceiling holds too.
    project = srv.request("GET", f"/v1/servers/{sid}", acct.token).json()["project_id"]
    over = srv.request("POST", "/v1/servers", capped, json={"project_id": project, "name": "x", "budget_usd": "1.50",
                                                           "memory_mb": 64, "disk_mb": 64})
    assert over.status_code == 403, over.text

    # Raised within the ceiling, then started: it runs again, metered.
    cli = cli_factory()
    env = {"S4A_API_URL": srv.base_url, "S4A_API_KEY": capped, "S4A_CA_CERT": str(srv.ca)}
    raised = cli.json("server", "budget", sid, "1", env=env)
    assert raised["budget_usd"] == "1.00" and raised["state"] == "exhausted", raised
    assert srv.request("POST", f"/v1/servers/{sid}/start", capped).json()["state"] == "running"
    actions = [e["action"] for e in srv.request("GET", "/v1/activity?limit=50", acct.token).json()["items"]]
    assert "server.budget_changed" in actions


def test_operator_prices_set_the_rate(make_server):
    """1000 µ$ per vCPU-second and nothing for memory: a 3000 µ$ cap buys about three seconds."""
    srv = make_server(extra_args=["--lease-seconds", "1", "--price-vcpu-second", "1000", "--price-gib-second", "0"])
    acct = signup_and_login(srv)
    sid = burning_server(srv, acct.token, "0.003")
    for _ in range(100):
        if srv.request("GET", f"/v1/servers/{sid}", acct.token).json()["state"] != "running":
            break
        time.sleep(0.2)
    money = ledger(srv, sid)
    server = srv.request("GET", f"/v1/servers/{sid}", acct.token).json()
    db = sqlite3.connect(srv.data_dir / "s4a.sqlite")
    leases = db.execute("SELECT started_at, deadline, reserved_micros, settled_at FROM leases WHERE server_id = ? ORDER BY started_at",
                        (sid,)).fetchall()
    assert server["state"] == "exhausted", (server, money, leases)
    assert 1500 <= money["charge"] <= 3000, money
    bad = subprocess.run([str(__import__("conftest").s4a_bin()), "serve", "--price-vcpu-second", "cheap"],
                         capture_output=True, text=True, timeout=30)
    assert bad.returncode != 0 and "--price-vcpu-second" in bad.stderr + bad.stdout, bad


def race_against_the_spending_limit(srv: Server) -> None:
    """20 creates and 20 raises at once against a 10 USD account limit: caps never sum past
    it, the refused ones change nothing, and the limit is only a person's to set."""
    from concurrent.futures import ThreadPoolExecutor

    acct = signup_and_login(srv)
    agent = srv.request("POST", "/v1/api-keys", acct.token, json={
        "name": "agent", "scopes": ["projects:write", "servers:read", "servers:write", "budget:write"]}).json()["token"]
    assert srv.request("PATCH", "/v1/account", agent, json={"spending_limit_usd": "100"}).status_code == 403
    assert srv.request("PATCH", "/v1/account", acct.token, json={"spending_limit_usd": "ten"}).status_code == 400
    r = srv.request("PATCH", "/v1/account", acct.token, json={"spending_limit_usd": 10})
    assert r.status_code == 200 and r.json()["spending_limit_usd"] == "10.00", r.text
    assert srv.request("GET", "/v1/account", agent).json()["spending_limit_usd"] == "10.00"
    project = srv.request("POST", "/v1/projects", agent, json={"name": "limited"}).json()["id"]

    def create(i: int):
        return srv.request("POST", "/v1/servers", agent, json={
            "project_id": project, "name": f"s{i}", "budget_usd": "1", "memory_mb": 64, "disk_mb": 64})

    with ThreadPoolExecutor(20) as pool:
        created = list(pool.map(create, range(20)))
    ok = [r.json()["id"] for r in created if r.status_code == 201]
    refused = [r for r in created if r.status_code != 201]
    assert len(ok) == 10, [r.status_code for r in created]
    assert all(r.status_code == 422 and "spending limit" in r.json()["detail"] for r in refused), [r.text for r in refused]
    listed = srv.request("GET", "/v1/servers?limit=100", agent).json()["items"]
    assert sorted(s["id"] for s in listed) == sorted(ok)

    # Free 5 USD by lowering five caps, then 20 raises of 1 → 2 race for it.
    for sid in ok[:5]:
        assert srv.request("PATCH", f"/v1/servers/{sid}", agent, json={"budget_usd": "0.5"}).status_code == 200
    with ThreadPoolExecutor(20) as pool:
        raised = list(pool.map(lambda sid: srv.request("PATCH", f"/v1/servers/{sid}", agent, json={"budget_usd": "1.5"}),
                               ok * 2))
    caps = [float(s["budget_usd"]) for s in srv.request("GET", "/v1/servers?limit=100", agent).json()["items"]]
    assert sum(caps) <= 10.0 + 1e-9, caps
    assert sum(1 for r in raised if r.status_code == 200) >= 1
    assert all(r.status_code in (200, 422) for r in raised), [r.text for r in raised]
    # Deleting a server gives back its cap but not what it was charged.
    for sid in ok:
        assert srv.request("DELETE", f"/v1/servers/{sid}", agent).status_code == 204
    assert srv.request("DELETE", "/v1/account/spending-limit", agent).status_code == 403
    r = srv.request("DELETE", "/v1/account/spending-limit", acct.token)
    assert r.status_code == 200 and "spending_limit_usd" not in r.json(), r.text
    actions = [e["action"] for e in srv.request("GET", "/v1/activity?limit=100", acct.token).json()["items"]]
    assert actions.count("account.spending_limit_changed") == 2


def test_concurrent_creates_and_raises_never_pass_the_account_limit(make_server):
    race_against_the_spending_limit(make_server())


def test_a_prices_file_sets_the_rate_and_a_bad_one_stops_the_start(make_server, tmp_path):
    from conftest import s4a_bin

    bad = tmp_path / "bad.json"
    bad.write_text('{"vcpu_second": "14", "gib_secnd": "4.5"}')
    p = subprocess.run([str(s4a_bin()), "serve", "--data-dir", str(tmp_path / "data"), "--listen", "127.0.0.1:1",
                        "--prices-file", str(bad)], capture_output=True, text=True, timeout=60)
    assert p.returncode != 0 and "unknown price gib_secnd" in p.stderr + p.stdout, (p.returncode, p.stderr)

    prices = tmp_path / "prices.json"
    prices.write_text('{"vcpu_second": 1000, "gib_second": "0", "egress_gib": "5.5"}')
    # The flag wins over the file for the price it names.
    srv = make_server(extra_args=["--prices-file", str(prices), "--price-gib-second", "1000"])
    acct = signup_and_login(srv)
    project = srv.request("POST", "/v1/projects", acct.token, json={"name": "priced"}).json()["id"]
    sid = srv.request("POST", "/v1/servers", acct.token, json={
        "project_id": project, "name": "p", "budget_usd": "20", "cpu_millis": 1000, "memory_mb": 1024}).json()["id"]
    spend = srv.request("GET", f"/v1/servers/{sid}/usage", acct.token).json()["spend"]
    assert spend["rate_usd_per_hour"] == "7.20", spend  # (1000 + 1000) µ$ × 3600
