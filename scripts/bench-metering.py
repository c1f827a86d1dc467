#!/usr/bin/env python3
"""What metering costs with many servers running, against the same control plane idle, in one
script: control-plane and watchdog CPU, store writes per second (lease renewals, ledger
entries, usage samples), and how long after its last lease's deadline an exhausted server is
recorded as such (p50/p99), with the others running.

Usage: S4A_BIN=.build/release/s4a scripts/bench-metering.py [SERVERS] [EXHAUSTING] [SECONDS]"""
import os, sqlite3, statistics, sys, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
import conftest  # noqa: E402

SERVERS = int(sys.argv[1]) if len(sys.argv) > 1 else 200
EXHAUSTING = int(sys.argv[2]) if len(sys.argv) > 2 else 20
SECONDS = float(sys.argv[3]) if len(sys.argv) > 3 else 30
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids):
    total = 0
    for pid in pids:
        try:
            fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / TICK
        except OSError:
            pass
    return total


def watchdogs(data):
    """The lease watchdogs of this run's servers, by their pid files."""
    found = []
    for pid_file in (data / "runtime" / "servers").glob("*/watchdog.pid"):
        try:
            found.append(int(pid_file.read_text().strip()))
        except (OSError, ValueError):
            pass
    return found


def rows(db):
    return {t: db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in ("leases", "ledger_entries", "usage_samples")}


def measure(srv, db, label):
    pids = [srv.process.pid]
    before_rows, before_cp, before_wd = rows(db), cpu_seconds(pids), cpu_seconds(watchdogs(srv.data_dir))
    start = time.monotonic()
    time.sleep(SECONDS)
    elapsed = time.monotonic() - start
    after_rows = rows(db)
    cp = (cpu_seconds(pids) - before_cp) / elapsed * 100
    wd = (cpu_seconds(watchdogs(srv.data_dir)) - before_wd) / elapsed * 100
    writes = {t: (after_rows[t] - before_rows[t]) / elapsed for t in after_rows}
    print(f"{label}: control plane {cp:.1f}% of a core, watchdogs {wd:.1f}%, rows/s "
          + ", ".join(f"{t} {v:.1f}" for t, v in writes.items()), flush=True)
    return cp, wd, writes


data = Path(f"/tmp/s4a-bench-metering-{os.getpid()}/data")
srv = conftest.start_server(data, via_env=False, extra_args=["--usage-interval", "5"])
try:
    acct = conftest.signup_and_login(srv)
    db = sqlite3.connect(data / "s4a.sqlite")
    project = srv.request("POST", "/v1/projects", acct.token, json={"name": "bench"}).json()["id"]
    idle_cp, _, _ = measure(srv, db, "idle (no servers)")

    def create(i, budget="100"):
        r = srv.request("POST", "/v1/servers", acct.token, json={
            "project_id": project, "name": f"s{i}", "budget_usd": budget, "memory_mb": 64, "disk_mb": 64, "cpu_millis": 100})
        assert r.status_code == 201, r.text
        return r.json()["id"]

    t0 = time.monotonic()
    with ThreadPoolExecutor(4) as pool:
        ids = list(pool.map(create, range(SERVERS)))
    print(f"created {SERVERS} servers in {time.monotonic() - t0:.0f} s", flush=True)
    busy_cp, busy_wd, busy_writes = measure(srv, db, f"{SERVERS} servers running")
    print(f"ratio: control-plane CPU {busy_cp / max(idle_cp, 0.1):.1f}× idle; "
          f"{busy_cp / SERVERS * 1000:.1f} milli-% of a core per server", flush=True)

    # Servers whose cap buys about 3 s: time from the last lease's deadline to `exhausted`.
    # 100 millicores and 64 MiB cost 1.68125 µ$/s.
    doomed = [create(f"x{i}", "0.000005") for i in range(EXHAUSTING)]
    lags = []
    pending = set(doomed)
    give_up = time.monotonic() + 60
    while pending and time.monotonic() < give_up:
        for sid in list(pending):
            if srv.request("GET", f"/v1/servers/{sid}", acct.token).json()["state"] == "exhausted":
                seen = time.time()
                deadline = db.execute("SELECT MAX(deadline) FROM leases WHERE server_id = ?", (sid,)).fetchone()[0] / 1000
                lags.append((seen - deadline) * 1000)
                pending.discard(sid)
        time.sleep(0.02)
    lags.sort()
    if lags:
        print(f"last lease deadline → recorded exhausted ({len(lags)} servers, {SERVERS} others running): "
              f"p50 {statistics.median(lags):.0f} ms, p99 {lags[min(len(lags) - 1, int(len(lags) * 0.99))]:.0f} ms",
              flush=True)
    if pending:
        print(f"{len(pending)} servers were not exhausted within a minute", flush=True)
finally:
    conftest.stop_server(srv)
