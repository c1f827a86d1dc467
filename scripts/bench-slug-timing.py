#!/usr/bin/env python3
"""Whether a private project's URL can be told from an unknown one by how long it takes to
answer: a private project with a deployed, attached app, and a slug that exists nowhere, asked
in a random order over one kept-alive TLS connection each (so handshakes are not measured). Reports the
median and p90 of each and the ratio of the medians (the goal: 1.0 within noise), with a
public project's answer as the baseline of a request that does reach an app.

Usage: S4A_BIN=.build/release/s4a scripts/bench-slug-timing.py [REQUESTS]"""
import random, statistics, sys, tempfile, time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
import conftest  # noqa: E402
from test_ingress import AppClient, deployed_app  # noqa: E402

REQUESTS = int(sys.argv[1]) if len(sys.argv) > 1 else 2000


def timed(client, host):
    start = time.perf_counter()
    status, _, _ = client.request("GET", "/", host)
    return (time.perf_counter() - start) * 1e6, status


def summary(label, values):
    values = sorted(values)
    p90 = values[int(0.9 * (len(values) - 1))]
    print(f"{label}: median {statistics.median(values):.0f} µs, p90 {p90:.0f} µs ({len(values)} requests)", flush=True)
    return statistics.median(values)


def main():
    root = Path(tempfile.mkdtemp(prefix="s4a-bench-slugs-"))
    srv = conftest.start_server(root / "data", via_env=False)
    try:
        acct = conftest.signup_and_login(srv)
        deployed_app(srv, acct.token, "secret-shop", "tok")
        public, _ = deployed_app(srv, acct.token, "open-shop", "tok")
        assert srv.request("PATCH", f"/v1/projects/{public}", acct.token, json={"visibility": "public"}).status_code == 200
        domain, port = srv.apps_domain, srv.port
        clients = {name: AppClient(srv, f"{name}.{domain}") for name in ("secret-shop", "nosuch-shop", "open-shop")}
        # Wait for the public app to listen, then warm every path.
        for _ in range(100):
            if timed(clients["open-shop"], f"open-shop.{domain}:{port}")[1] == 200:
                break
            time.sleep(0.2)
        # Private and unknown in a random order each round, so neither always follows the other;
        # the public app apart (its slower answers would warm or cool whatever came next).
        rng = random.Random(7)
        times = {name: [] for name in clients}
        for i in range(REQUESTS + 200):
            order = ["secret-shop", "nosuch-shop"]
            rng.shuffle(order)
            for name in order:
                elapsed, status = timed(clients[name], f"{name}.{domain}:{port}")
                assert status == 404, (name, status)
                if i >= 200:
                    times[name].append(elapsed)
        for i in range(min(REQUESTS, 500)):
            elapsed, status = timed(clients["open-shop"], f"open-shop.{domain}:{port}")
            assert status == 200, status
            times["open-shop"].append(elapsed)
        private = summary("private project (deployed, attached)", times["secret-shop"])
        unknown = summary("unknown slug", times["nosuch-shop"])
        summary("public project (baseline: reaches the app)", times["open-shop"])
        print(f"private / unknown median ratio: {private / unknown:.3f}")
    finally:
        conftest.kill_and_destroy(srv, root)


if __name__ == "__main__":
    main()
