#!/usr/bin/env python3
"""Log drain delivery against the API's own view of the same logs, in one control plane:
- burst: a server prints N lines at once; time until all N are readable through
  `GET /v1/servers/{id}/logs` (the baseline) and until all N reached a local HTTPS receiver;
- latency: a line a tenth of a second, M times; the receiver's arrival time minus each line's
  own timestamp (p50, p99).
Usage: S4A_BIN=… scripts/bench-drain.py [N] [M]"""
import os, statistics, sys, tempfile, time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
import conftest  # noqa: E402
from test_log_drains import Receiver, make_pki  # noqa: E402

n = int(sys.argv[1]) if len(sys.argv) > 1 else 5000  # within the default buffer (10 000): no drops
m = int(sys.argv[2]) if len(sys.argv) > 2 else 50
pki = make_pki(Path(tempfile.mkdtemp(prefix="s4a-bench-drain-pki-")))
srv = conftest.start_server(Path(f"/tmp/s4a-bench-drain-{os.getpid()}/data"), via_env=False,
                            extra_args=["--drain-ca-file", str(pki["ca"]), "--drain-allow-private"])
receiver = Receiver(pki).start()
arrivals: dict[int, float] = {}
try:
    acct = conftest.signup_and_login(srv)
    project = srv.request("POST", "/v1/projects", acct.token, json={"name": "bench"}).json()["id"]
    sid = srv.request("POST", "/v1/servers", acct.token, json={"project_id": project, "name": "b", "budget_usd": "1",
                                                               "memory_mb": 128, "disk_mb": 64}).json()["id"]
    r = srv.request("POST", f"/v1/projects/{project}/log-drains", acct.token, json={"url": receiver.url, "kinds": ["logs"]})
    assert r.status_code == 201, r.text
    drain = r.json()["drain"]["id"]

    def dropped() -> int:
        drains = srv.request("GET", f"/v1/projects/{project}/log-drains", acct.token).json()["items"]
        return next(d["dropped"] for d in drains if d["id"] == drain)

    def delivered(prefix: str) -> list[dict]:
        return [x for x in receiver.records() if x.get("kind") == "log" and x.get("text", "").startswith(prefix)]

    def api_count(prefix: str) -> int:
        lines = srv.request("GET", f"/v1/servers/{sid}/logs", acct.token, params={"q": prefix, "limit": 10000}).json()["lines"]
        return len(lines)

    start = time.monotonic()
    srv.request("POST", f"/v1/servers/{sid}/exec", acct.token, json={"command": f"seq -f 'burst-%g' {n}", "background": True})
    api_done = drain_done = None
    while api_done is None or drain_done is None:
        if api_done is None and api_count("burst-") >= min(n, 10000):
            api_done = time.monotonic() - start
        if drain_done is None and len(delivered("burst-")) + dropped() >= n:
            drain_done = time.monotonic() - start
        time.sleep(0.05)
    print(f"burst of {n} lines: readable through the API (first {min(n, 10000)}) after {api_done * 1000:.0f} ms, "
          f"all at the receiver after {drain_done * 1000:.0f} ms ({n / drain_done:.0f} lines/s, {dropped()} dropped)")

    srv.request("POST", f"/v1/servers/{sid}/exec", acct.token, json={
        "command": f"i=0; while [ $i -lt {m} ]; do echo tick-$i; i=$((i+1)); sleep 0.1; done", "background": True})
    seen: dict[str, float] = {}
    deadline = time.monotonic() + 60 + m * 0.2
    while len(seen) < m and time.monotonic() < deadline:
        now = time.time()
        for record in delivered("tick-"):
            seen.setdefault(record["text"], now - datetime.fromisoformat(record["time"].replace("Z", "+00:00")).timestamp())
        time.sleep(0.01)
    latencies = sorted(v * 1000 for v in seen.values())
    print(f"line written → at the receiver, {len(latencies)} lines: p50 {statistics.median(latencies):.0f} ms, "
          f"p99 {latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]:.0f} ms")
finally:
    receiver.stop()
    conftest.stop_server(srv)
