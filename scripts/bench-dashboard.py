#!/usr/bin/env python3
"""What a dashboard page costs next to the API answer it is built around, in the same
process: a project's page (project, servers with spend, secrets, activity, uptime) against
`GET /v1/projects/{id}`, and a server's page (usage charts, runs, logs) against
`GET /v1/servers/{id}`. Medians over N sequential requests on one kept-alive connection.
Usage: S4A_BIN=… scripts/bench-dashboard.py [N]"""
import os, statistics, sys, time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
import conftest  # noqa: E402

n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
srv = conftest.start_server(Path(f"/tmp/s4a-bench-dashboard-{os.getpid()}/data"), via_env=False)
try:
    acct = conftest.signup_and_login(srv)
    project = srv.request("POST", "/v1/projects", acct.token, json={"name": "bench"}).json()["id"]
    sid = srv.request("POST", "/v1/servers", acct.token, json={"project_id": project, "name": "b", "budget_usd": "1",
                                                               "memory_mb": 64, "disk_mb": 64}).json()["id"]
    for i in range(20):
        srv.request("PUT", f"/v1/projects/{project}/secrets/S{i}", acct.token, json={"value": "x"})
        srv.request("POST", f"/v1/servers/{sid}/exec", acct.token, json={"command": f"echo {i}"})
    session = requests.Session()
    session.trust_env = False
    session.verify = str(srv.ca)
    session.cookies.set("__Host-s4a_session", acct.token)

    def median_ms(path, headers=None):
        session.get(srv.url(path), headers=headers)  # warm
        times = []
        for _ in range(n):
            start = time.perf_counter()
            r = session.get(srv.url(path), headers=headers)
            times.append((time.perf_counter() - start) * 1000)
            assert r.status_code == 200, (path, r.status_code)
        return statistics.median(times)

    for page, api in ((f"/projects/{project}", f"/v1/projects/{project}"), (f"/servers/{sid}", f"/v1/servers/{sid}")):
        p, a = median_ms(page), median_ms(api)
        print(f"{page:<34} p50 {p:6.2f} ms   {api:<40} p50 {a:6.2f} ms   ratio {p / a:4.1f}×")
finally:
    conftest.stop_server(srv)
