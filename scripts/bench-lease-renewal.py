#!/usr/bin/env python3
"""Lease settlement under load: N running servers while servers are created 4 at a time and 64
clients make authenticated GETs, for a while. Reports how late each lease was settled (the gap
between a lease's planned settlement, 5 s after it began, and the next lease's start, from the
store), p50/p99/max, against the same measure with the control plane idle, and how many of the
N servers stopped (the goal: none; a late settlement never stops a server, whose keeper holds
its whole remaining budget).

Usage: S4A_BIN=.build/release/s4a scripts/bench-lease-renewal.py [SERVERS] [SECONDS]"""
import sqlite3, statistics, sys, tempfile, threading, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
import conftest  # noqa: E402

SERVERS = int(sys.argv[1]) if len(sys.argv) > 1 else 50
SECONDS = float(sys.argv[2]) if len(sys.argv) > 2 else 60
SETTLE_MS = 5000


def lags(db, ids, since_ms, until_ms):
    """Milliseconds each settlement in the window came after its plan."""
    found = []
    for sid in ids:
        starts = [r[0] for r in db.execute("SELECT started_at FROM leases WHERE server_id = ? ORDER BY started_at", (sid,))]
        for earlier, later in zip(starts, starts[1:]):
            if since_ms <= later <= until_ms:
                found.append(max(0, later - earlier - SETTLE_MS))
    return found


def report(label, values):
    values = sorted(values)
    if not values:
        print(f"{label}: no settlements")
        return
    p = lambda q: values[min(len(values) - 1, int(q * (len(values) - 1)))]
    print(f"{label}: {len(values)} settlements, lag p50 {statistics.median(values):.0f} ms, p99 {p(0.99):.0f} ms, "
          f"max {values[-1]} ms", flush=True)


def main():
    root = Path(tempfile.mkdtemp(prefix="s4a-bench-renewal-"))
    srv = conftest.start_server(root / "data", via_env=False)
    try:
        acct = conftest.signup_and_login(srv)
        project = srv.request("POST", "/v1/projects", acct.token, json={"name": "bench"}).json()["id"]

        def create(i):
            r = srv.request("POST", "/v1/servers", acct.token, timeout=120, json={
                "project_id": project, "name": f"s{i}", "budget_usd": "1", "cpu_millis": 100, "memory_mb": 64, "disk_mb": 64})
            assert r.status_code == 201, r.text
            return r.json()["id"]

        with ThreadPoolExecutor(4) as pool:
            ids = list(pool.map(create, range(SERVERS)))
        db = sqlite3.connect(srv.data_dir / "s4a.sqlite")

        start = int(time.time() * 1000)
        time.sleep(min(30, SECONDS))
        report(f"idle, {SERVERS} servers", lags(db, ids, start + SETTLE_MS, int(time.time() * 1000)))

        stop = threading.Event()
        made = []

        def creator(n):
            while not stop.is_set():
                try:
                    made.append(create(f"load{n}-{len(made)}"))
                except (AssertionError, requests.RequestException):
                    time.sleep(0.5)

        def reader():
            session = requests.Session()
            while not stop.is_set():
                try:
                    session.get(srv.url("/v1/projects"), headers={"Authorization": f"Bearer {acct.token}"},
                                verify=str(srv.ca), timeout=30)
                except requests.RequestException:
                    pass

        threads = [threading.Thread(target=creator, args=(n,)) for n in range(4)] + \
                  [threading.Thread(target=reader) for _ in range(64)]
        start = int(time.time() * 1000)
        for t in threads:
            t.start()
        time.sleep(SECONDS)
        stop.set()
        for t in threads:
            t.join()
        end = int(time.time() * 1000)
        report(f"loaded ({len(made)} servers created 4 at a time, 64 GET clients), {SERVERS} servers",
               lags(db, ids, start + SETTLE_MS, end))
        stopped = [sid for sid in ids if srv.request("GET", f"/v1/servers/{sid}", acct.token).json()["state"] != "running"]
        print(f"servers of the {SERVERS} that stopped: {len(stopped)}", flush=True)
    finally:
        conftest.kill_and_destroy(srv, root)


if __name__ == "__main__":
    main()
