"""Usage metrics through the real binary and real runc: the sampler reads each running
server's cgroup every second here (--usage-interval 1); charts, account totals, each run's
CPU time, the platform's /metrics and the CLI's charts."""

from __future__ import annotations

import time

from conftest import signup_and_login, wait_until
from test_budgets import ledger



def test_usage_samples_spend_and_run_cpu_time(make_server, cli_factory):
    srv = make_server(extra_args=["--usage-interval", "1"])
    acct = signup_and_login(srv)
    project = srv.request("POST", "/v1/projects", acct.token, json={"name": "metered"}).json()["id"]
    sid = srv.request("POST", "/v1/servers", acct.token, json={
        "project_id": project, "name": "busy", "budget_usd": "2", "memory_mb": 512, "disk_mb": 64}).json()["id"]

    # A busy command's CPU time is its own (children included); an idle one's is near nothing.
    busy = srv.request("POST", f"/v1/servers/{sid}/exec", acct.token, json={
        "command": "sh -c 'i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done' & wait; dd if=/dev/zero of=/root/blob bs=1M count=8 status=none"})
    assert busy.status_code == 200, busy.text
    idle = srv.request("POST", f"/v1/servers/{sid}/exec", acct.token, json={"command": "sleep 1"}).json()
    assert busy.json()["cpu_ms"] >= 50, busy.json()
    assert 0 <= idle["cpu_ms"] < 50 <= idle["duration_ms"], idle
    run = srv.request("GET", f"/v1/servers/{sid}/runs/{busy.json()['run_id']}", acct.token).json()
    assert run["cpu_ms"] == busy.json()["cpu_ms"], run
    # A background run learns its CPU time when it ends.
    bg = srv.request("POST", f"/v1/servers/{sid}/exec", acct.token, json={
        "command": "i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done", "background": True}).json()
    ended = wait_until(lambda: (r := srv.request("GET", f"/v1/servers/{sid}/runs/{bg['id']}", acct.token).json())
                     ["state"] == "exited" and r)
    assert ended["cpu_ms"] > 0, ended

    def samples():
        body = srv.request("GET", f"/v1/servers/{sid}/usage?step=1&since={since}", acct.token).json()
        return body if len(body["samples"]) >= 3 else None

    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 120))
    usage = wait_until(samples)
    spend = usage["spend"]
    assert usage["server_id"] == sid and usage["state"] == "running" and usage["step_seconds"] == 1
    micros = {k: round(float(v) * 1_000_000) for k, v in spend.items()}
    assert micros["charged_usd"] + micros["reserved_usd"] + micros["remaining_usd"] == micros["budget_usd"], spend
    assert spend["rate_usd_per_hour"] == "0.0585", spend  # 16.25 µ$/s at the default prices
    money = ledger(srv, sid)
    assert micros["charged_usd"] <= money.get("charge", 0), (spend, money)  # nothing charged before a settlement
    cpu = sum(s["cpu_seconds"] for s in usage["samples"])
    assert cpu >= 0.05, usage["samples"]
    last = usage["samples"][-1]
    assert last["memory_bytes"] > 0 and last["pids"] >= 1 and last["disk_bytes"] >= 8 << 20, last
    charged = [float(s["charged_usd"]) for s in usage["samples"]]
    assert charged == sorted(charged), charged

    # The account view: per server and in total.
    account = srv.request("GET", "/v1/usage", acct.token).json()
    assert [s["server_id"] for s in account["servers"]] == [sid]
    assert float(account["charged_usd"]) >= float(spend["charged_usd"])
    assert account["rate_usd_per_hour"] == "0.0585"

    # Bad ranges are refused with a problem; a key without the project sees nothing.
    for query in ["step=0", "since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z",
                  "since=2026-01-01T00:00:00Z&until=2026-03-01T00:00:00Z", "step=1&since=2020-01-01T00:00:00Z&until=2020-01-02T00:00:00Z"]:
        r = srv.request("GET", f"/v1/servers/{sid}/usage?{query}", acct.token)
        assert r.status_code == 400 and r.headers["content-type"].startswith("application/problem+json"), (query, r.text)
    other = srv.request("POST", "/v1/projects", acct.token, json={"name": "other"}).json()["id"]
    outsider = srv.request("POST", "/v1/api-keys", acct.token, json={
        "name": "outsider", "scopes": ["servers:read"], "project_ids": [other]}).json()["token"]
    assert srv.request("GET", f"/v1/servers/{sid}/usage", outsider).status_code == 404
    assert srv.request("GET", "/v1/usage", outsider).json()["servers"] == []

    # The platform's own totals (loopback may read /metrics).
    metrics = srv.request("GET", "/metrics").text
    running = [line for line in metrics.splitlines() if line.startswith("s4a_servers_running")]
    assert running and float(running[0].split()[-1]) >= 1, metrics[:2000]
    assert "s4a_usage_samples_total" in metrics

    # The CLI draws it.
    cli = cli_factory()
    env = {"S4A_API_URL": srv.base_url, "S4A_API_KEY": acct.token, "S4A_CA_CERT": str(srv.ca)}
    out = cli.ok("usage", sid, "--since", "2m", "--step", "5", env=env).stdout
    assert "CPU" in out and "Spend" in out and "$2.00" in out, out
    table = cli.ok("usage", env=env).stdout
    assert sid in table and "Total spent" in table, table
    assert cli.json("usage", sid, env=env)["server_id"] == sid

    # Stopped, it costs nothing per hour.
    srv.request("POST", f"/v1/servers/{sid}/stop", acct.token)
    stopped = srv.request("GET", f"/v1/servers/{sid}/usage", acct.token).json()["spend"]
    assert stopped["rate_usd_per_hour"] == "0.00" and stopped["reserved_usd"] == "0.00", stopped
