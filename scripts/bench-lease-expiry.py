#!/usr/bin/env python3
"""Time from a lease's deadline to the server's processes being stopped, with the control
plane SIGKILLed (only the watchdog is left to enforce). Usage: S4A_BIN=… scripts/bench-lease-expiry.py [N]"""
import json, os, signal, statistics, subprocess, sys, time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
import conftest  # noqa: E402

samples = []
for i in range(int(sys.argv[1]) if len(sys.argv) > 1 else 10):
    data = Path(f"/tmp/s4a-bench-lease-{os.getpid()}-{i}/data")
    srv = conftest.start_server(data, via_env=False, extra_args=["--lease-seconds", "2"])
    acct = conftest.signup_and_login(srv)
    project = srv.request("POST", "/v1/projects", acct.token, json={"name": "b"}).json()["id"]
    sid = srv.request("POST", "/v1/servers", acct.token, json={"project_id": project, "name": "b", "budget_usd": "1",
                                                               "memory_mb": 64, "disk_mb": 64}).json()["id"]
    srv.request("POST", f"/v1/servers/{sid}/exec", acct.token, json={"command": "while :; do :; done", "background": True})
    time.sleep(1)
    srv.process.send_signal(signal.SIGKILL)
    srv.process.wait()
    deadline = int((data / "runtime" / "servers" / sid / "lease").read_text()) / 1000
    root = str(data / "runtime" / "runc")
    while True:
        out = subprocess.run(["runc", "--root", root, "state", sid], capture_output=True, text=True)
        if out.returncode != 0 or json.loads(out.stdout)["status"] != "running":
            break
        time.sleep(0.005)
    samples.append((time.time() - deadline) * 1000)
    conftest.destroy_all(srv)
samples.sort()
print(f"lease deadline → server stopped (control plane SIGKILLed), {len(samples)} samples: "
      f"p50 {statistics.median(samples):.0f} ms, p99 {samples[min(len(samples) - 1, int(len(samples) * 0.99))]:.0f} ms, "
      f"min {samples[0]:.0f} ms")
