"""Log drains through the real binary: a local HTTPS receiver (a certificate made here by
openssl, trusted with --drain-ca-file) gets every log line and activity event of the project
in order, numbered so a retried batch is recognisable and signed with the secret shown once;
it catches up after being down; a receiver that never answers holds only its own drain."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import ssl
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from conftest import Server, free_port, have, signup_and_login, wait_until

PROBLEM = "application/problem+json"


# ------------------------------------------------------------------ certificates

@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> dict[str, Path]:
    return make_pki(tmp_path_factory.mktemp("drain-pki"))


def make_pki(d: Path) -> dict[str, Path]:
    """A CA and a certificate for 127.0.0.1 and localhost signed by it, in `d`."""
    have("openssl")

    def run(*args: str) -> None:
        p = subprocess.run(["openssl", *args], cwd=d, capture_output=True, text=True)
        assert p.returncode == 0, p.stderr

    run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
        "-subj", "/CN=drain test CA", "-keyout", "ca.key", "-out", "ca.pem",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign")
    run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=127.0.0.1",
        "-keyout", "leaf.key", "-out", "leaf.csr")
    (d / "leaf.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n")
    run("x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
        "-extfile", "leaf.ext", "-out", "leaf.pem")
    return {"ca": d / "ca.pem", "cert": d / "leaf.pem", "key": d / "leaf.key"}


# ------------------------------------------------------------------ receivers

class Receiver:
    """An HTTPS endpoint on 127.0.0.1 that records every POST (headers and body)."""

    def __init__(self, pki: dict[str, Path], port: int | None = None):
        self.pki = pki
        self.port = port or free_port()
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.lock = threading.Lock()
        self.httpd: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}/ingest"

    def start(self) -> "Receiver":
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.lock:
                    receiver.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.pki["cert"], self.pki["key"])
        httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
        self.httpd = httpd
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.httpd:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None

    def batches(self) -> list[tuple[dict[str, str], bytes]]:
        with self.lock:
            return list(self.requests)

    def records(self) -> list[dict]:
        """Every record once, by seq (a retried batch's records are the same ones), in order."""
        by_seq: dict[int, dict] = {}
        for _, body in self.batches():
            for line in body.decode().splitlines():
                record = json.loads(line)
                if record["seq"] in by_seq:
                    assert by_seq[record["seq"]] == record, "a seq was reused for another record"
                by_seq[record["seq"]] = record
        return [by_seq[s] for s in sorted(by_seq)]


class Blackhole:
    """Accepts TCP connections and never says a word."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        self.running = True
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}/never"

    def _accept(self):
        while self.running:
            try:
                conn, _ = self.sock.accept()
                self.held.append(conn)
            except OSError:
                return

    def close(self):
        self.running = False
        self.sock.close()
        for conn in self.held:
            conn.close()


# ------------------------------------------------------------------ helpers

def wait_for(predicate, timeout: float = 45, what: str = "condition"):
    return wait_until(predicate, timeout=timeout, what=what)


def setup_project(srv: Server, token: str) -> tuple[str, str]:
    r = srv.request("POST", "/v1/projects", token, json={"name": "drained"})
    assert r.status_code == 201, r.text
    project = r.json()["id"]
    r = srv.request("POST", "/v1/servers", token,
                    json={"project_id": project, "name": "s", "budget_usd": "1", "memory_mb": 64, "disk_mb": 64})
    assert r.status_code == 201, r.text
    return project, r.json()["id"]


def create_drain(srv: Server, token: str, project: str, url: str, **extra) -> tuple[dict, str]:
    r = srv.request("POST", f"/v1/projects/{project}/log-drains", token, json={"url": url, **extra})
    assert r.status_code == 201, r.text
    return r.json()["drain"], r.json()["secret"]


def background(srv: Server, token: str, server: str, command: str) -> str:
    r = srv.request("POST", f"/v1/servers/{server}/exec", token, json={"command": command, "background": True})
    assert r.status_code == 202, r.text
    run = r.json()["id"]
    wait_for(lambda: srv.request("GET", f"/v1/servers/{server}/runs/{run}", token).json()["state"] != "running",
             what=f"run {run} to end")
    return run


def api_lines(srv: Server, token: str, server: str) -> list[tuple[str, str, str]]:
    r = srv.request("GET", f"/v1/servers/{server}/logs", token, params={"limit": 10000})
    assert r.status_code == 200, r.text
    return [(l["run_id"], l["stream"], l["text"]) for l in r.json()["lines"]]


def drained_lines(records: list[dict], server: str) -> list[tuple[str, str, str]]:
    return [(r["process"], r["stream"], r["text"]) for r in records if r["kind"] == "log" and r["server_id"] == server]


def api_events(srv: Server, token: str, project: str) -> list[dict]:
    r = srv.request("GET", "/v1/activity", token, params={"project_id": project, "limit": 200})
    assert r.status_code == 200, r.text
    return list(reversed(r.json()["items"]))


def drain_state(srv: Server, token: str, project: str, drain_id: str) -> dict:
    r = srv.request("GET", f"/v1/projects/{project}/log-drains", token)
    assert r.status_code == 200, r.text
    return next(d for d in r.json()["items"] if d["id"] == drain_id)


def check_signatures(receiver: Receiver, secret: str, drain_id: str) -> None:
    batches = receiver.batches()
    assert batches
    for headers, body in batches:
        assert headers["content-type"] == "application/x-ndjson"
        assert headers["x-s4a-drain"] == drain_id
        expected = hmac.new(secret.encode(), headers["x-s4a-timestamp"].encode() + b"." + body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(headers["x-s4a-signature"], "sha256=" + expected), headers
        assert abs(int(headers["x-s4a-timestamp"]) - time.time()) < 600
        seqs = [json.loads(line)["seq"] for line in body.decode().splitlines()]
        assert headers["x-s4a-batch"] == f"{drain_id}:{seqs[0]}-{seqs[-1]}"
        assert seqs == list(range(seqs[0], seqs[-1] + 1))


def check_records(records: list[dict], drain_id: str) -> None:
    assert [r["seq"] for r in records] == list(range(1, len(records) + 1)), "records are missing"
    assert all(r["id"] == f"{drain_id}:{r['seq']}" for r in records)


# ------------------------------------------------------------------ tests

def test_drain_delivers_every_line_and_event_in_order_signed_and_catches_up(make_server, pki):
    srv = make_server(extra_args=["--drain-ca-file", str(pki["ca"]), "--drain-allow-private"])
    acct = signup_and_login(srv)
    project, server = setup_project(srv, acct.token)
    receiver = Receiver(pki).start()
    try:
        drain, secret = create_drain(srv, acct.token, project, receiver.url)
        assert drain["kinds"] == ["activity", "logs"] and drain["delivered"] == 0 and "secret" not in drain
        assert secret.startswith("s4a_whsec_")
        listed = srv.request("GET", f"/v1/projects/{project}/log-drains", acct.token)
        assert secret not in listed.text
        # The secret is sealed at rest, never in the database file in the clear.
        assert secret.encode() not in srv.sqlite_path.read_bytes()

        background(srv, acct.token, server, "for i in $(seq 1 300); do echo \"out $i\"; echo \"err $i\" >&2; done")
        r = srv.request("PUT", f"/v1/projects/{project}/secrets/TOKEN", acct.token, json={"value": "hush-hush-123"})
        assert r.status_code == 200, r.text
        background(srv, acct.token, server, "echo \"token is $TOKEN\"")

        def caught_up() -> bool:
            """Every line the API shows, and every event from the drain's creation on, in order."""
            records = receiver.records()
            events = api_events(srv, acct.token, project)
            first = [e["action"] for e in events].index("log_drain.created")
            return drained_lines(records, server) == api_lines(srv, acct.token, server) and \
                [r["event"]["id"] for r in records if r["kind"] == "activity"] == [e["id"] for e in events[first:]]
        wait_for(caught_up, what="every line and event at the receiver")
        records = receiver.records()
        check_records(records, drain["id"])
        check_signatures(receiver, secret, drain["id"])
        assert records[0]["kind"] == "activity" and records[0]["event"]["action"] == "log_drain.created"
        lines = drained_lines(records, server)
        assert sum(1 for _, stream, text in lines if stream == "stdout" and text.startswith("out ")) == 300
        assert sum(1 for _, stream, text in lines if stream == "stderr" and text.startswith("err ")) == 300
        assert ("stdout", "token is ***") in [(s, t) for _, s, t in lines]  # masked, as in the logs
        assert not any("hush-hush-123" in body.decode() for _, body in receiver.batches())
        # Each event comes with its chain link.
        for r in records:
            if r["kind"] == "activity":
                assert len(r["event"]["hash"]) == 64 and len(r["event"]["prev_hash"]) == 64

        # The receiver goes away; more happens; the drain reports the failure and, once the
        # receiver is back, delivers everything it missed, numbered on with no gap.
        receiver.stop()
        before = len(records)
        background(srv, acct.token, server, "for i in $(seq 1 50); do echo \"later $i\"; done")
        r = srv.request("PATCH", f"/v1/projects/{project}", acct.token, json={"name": "renamed while down"})
        assert r.status_code == 200, r.text
        wait_for(lambda: drain_state(srv, acct.token, project, drain["id"]).get("last_error"), what="the drain's error")
        time.sleep(3)  # a few retries fail
        receiver.start()
        wait_for(caught_up, timeout=60, what="the drain to catch up")
        records = receiver.records()
        check_records(records, drain["id"])
        check_signatures(receiver, secret, drain["id"])
        assert len(records) > before
        assert sum(1 for r in records if r["kind"] == "log" and r["text"].startswith("later ")) == 50
        assert any(r["kind"] == "activity" and r["event"]["action"] == "project.updated" for r in records)
        state = wait_for(lambda: (s := drain_state(srv, acct.token, project, drain["id"]))["delivered"] == len(records) and s,
                         what="the delivered count")
        assert state["dropped"] == 0 and state["last_success_at"]

        # Deleting stops delivery, and is itself recorded.
        r = srv.request("DELETE", f"/v1/projects/{project}/log-drains/{drain['id']}", acct.token)
        assert r.status_code == 204, r.text
        assert "log_drain.deleted" in [e["action"] for e in api_events(srv, acct.token, project)]
        time.sleep(2)  # the delivery service lets go of it within a second
        count = len(receiver.batches())
        background(srv, acct.token, server, "echo after-delete")
        time.sleep(3)
        assert len(receiver.batches()) == count
        r = srv.request("DELETE", f"/v1/projects/{project}/log-drains/{drain['id']}", acct.token)
        assert r.status_code == 404 and r.headers["Content-Type"].startswith(PROBLEM)
    finally:
        receiver.stop()


def test_a_receiver_that_never_answers_slows_nothing_but_its_drain(make_server, pki):
    srv = make_server(extra_args=["--drain-ca-file", str(pki["ca"]), "--drain-allow-private"])
    acct = signup_and_login(srv)
    project, server = setup_project(srv, acct.token)
    hole = Blackhole()
    receiver = Receiver(pki).start()
    try:
        stuck, _ = create_drain(srv, acct.token, project, hole.url, kinds=["logs"])
        healthy, secret = create_drain(srv, acct.token, project, receiver.url, kinds=["logs"])
        # Servers write their logs regardless: the commands end and their lines are all there.
        for round in range(3):
            background(srv, acct.token, server, f"for i in $(seq 1 100); do echo \"r{round} $i\"; done")
            r = srv.request("POST", f"/v1/servers/{server}/exec", acct.token, json={"command": "echo waited"})
            assert r.status_code == 200 and r.json()["exit_code"] == 0, r.text
        lines = api_lines(srv, acct.token, server)
        assert sum(1 for _, _, text in lines if text.startswith("r")) == 300
        # The other drain of the same project delivers everything meanwhile.
        wait_for(lambda: drained_lines(receiver.records(), server) == api_lines(srv, acct.token, server),
                 what="the healthy drain to deliver")
        check_records(receiver.records(), healthy["id"])
        check_signatures(receiver, secret, healthy["id"])
        assert all(r["kind"] == "log" for r in receiver.records())
        # The stuck one says why, after its request timed out.
        state = wait_for(lambda: (s := drain_state(srv, acct.token, project, stuck["id"])).get("last_error") and s,
                         timeout=40, what="the stuck drain's error")
        assert "could not be reached" in state["last_error"], state
        assert state["delivered"] == 0
    finally:
        hole.close()
        receiver.stop()


def test_a_full_buffer_drops_counts_and_reports_what_it_dropped(make_server, pki):
    srv = make_server(extra_args=["--drain-ca-file", str(pki["ca"]), "--drain-allow-private", "--drain-buffer", "20"])
    acct = signup_and_login(srv)
    project, server = setup_project(srv, acct.token)
    receiver = Receiver(pki)  # not listening yet: the endpoint is down
    try:
        drain, secret = create_drain(srv, acct.token, project, receiver.url, kinds=["logs"])
        background(srv, acct.token, server, "for i in $(seq 1 300); do echo \"line $i\"; done")
        total = len(api_lines(srv, acct.token, server))
        assert total >= 300
        state = wait_for(lambda: (s := drain_state(srv, acct.token, project, drain["id"]))["dropped"] > 0
                         and s.get("last_error") and s, what="drops while the endpoint is down")
        receiver.start()

        def settled():
            records = receiver.records()
            dropped = sum(r["count"] for r in records if r["kind"] == "drops")
            return len(drained_lines(records, server)) + dropped == total and records

        records = wait_for(settled, timeout=60, what="what was kept, and the drop report")
        check_records(records, drain["id"])
        check_signatures(receiver, secret, drain["id"])
        reported = sum(r["count"] for r in records if r["kind"] == "drops")
        state = wait_for(lambda: (s := drain_state(srv, acct.token, project, drain["id"]))["delivered"] == len(records)
                         and s, what="the counts")
        assert state["dropped"] == reported >= total - 20 - 500  # at most a buffer and a batch were kept
        # What arrived is in order: the oldest lines were kept, the newest dropped.
        delivered = drained_lines(records, server)
        lines = api_lines(srv, acct.token, server)
        assert delivered == lines[:len(delivered)]
    finally:
        receiver.stop()


def test_delivery_resumes_after_a_control_plane_restart(make_server, pki):
    args = ["--drain-ca-file", str(pki["ca"]), "--drain-allow-private"]
    srv = make_server(extra_args=args)
    acct = signup_and_login(srv)
    project, server = setup_project(srv, acct.token)
    receiver = Receiver(pki).start()
    try:
        drain, secret = create_drain(srv, acct.token, project, receiver.url)
        background(srv, acct.token, server, "for i in $(seq 1 50); do echo \"before $i\"; done")
        wait_for(lambda: drained_lines(receiver.records(), server) == api_lines(srv, acct.token, server),
                 what="the first lines")
        # Idle (its progress saved) before the stop, so no batch is in flight when it comes.
        wait_for(lambda: drain_state(srv, acct.token, project, drain["id"])["delivered"] == len(receiver.records()),
                 what="the drain's progress saved")
        # A supervised command keeps writing while the control plane is down.
        r = srv.request("POST", f"/v1/servers/{server}/exec", acct.token,
                        json={"command": "sleep 2; for i in $(seq 1 50); do echo \"while down $i\"; done",
                              "background": True})
        assert r.status_code == 202, r.text
        srv.stop()
        time.sleep(4)
        srv = make_server.restart(srv, extra_args=args)
        r = srv.request("PATCH", f"/v1/projects/{project}", acct.token, json={"name": "after restart"})
        assert r.status_code == 200, r.text

        def caught_up():
            records = receiver.records()
            return drained_lines(records, server) == api_lines(srv, acct.token, server) and \
                any(r["kind"] == "activity" and r["event"]["action"] == "project.updated" for r in records) and records

        records = wait_for(caught_up, timeout=60, what="the lines written while the control plane was down")
        check_records(records, drain["id"])  # numbering went on where it stopped: no gap, no repeat
        check_signatures(receiver, secret, drain["id"])
        texts = [r["text"] for r in records if r["kind"] == "log"]
        assert sum(1 for t in texts if t.startswith("while down ")) == 50
        assert sum(1 for t in texts if t.startswith("before ")) == 50  # none sent twice
    finally:
        receiver.stop()


def test_private_addresses_are_refused_unless_the_operator_allows_them(make_server, pki):
    """A drain must not make the control plane post to the host's or the network's own
    services: by default a loopback endpoint is refused when the drain is created, and never
    connected to."""
    srv = make_server(extra_args=["--drain-ca-file", str(pki["ca"])])
    acct = signup_and_login(srv)
    project, _ = setup_project(srv, acct.token)
    receiver = Receiver(pki).start()
    try:
        for url in (receiver.url, f"https://localhost:{receiver.port}/ingest"):
            r = srv.request("POST", f"/v1/projects/{project}/log-drains", acct.token, json={"url": url, "kinds": ["activity"]})
            assert r.status_code == 422 and "private" in r.json()["detail"], r.text
        assert srv.request("GET", f"/v1/projects/{project}/log-drains", acct.token).json()["items"] == []
        time.sleep(1.5)
        assert receiver.batches() == []
    finally:
        receiver.stop()


def test_a_named_endpoint_is_reached_at_the_address_it_was_checked_at(make_server, pki):
    """The connection goes to the address the name resolved to when it was checked, while TLS
    still names the host (SNI and the certificate's DNS name): here `localhost` → 127.0.0.1."""
    srv = make_server(extra_args=["--drain-ca-file", str(pki["ca"]), "--drain-allow-private"])
    acct = signup_and_login(srv)
    project, _ = setup_project(srv, acct.token)
    receiver = Receiver(pki).start()
    try:
        drain, secret = create_drain(srv, acct.token, project, f"https://localhost:{receiver.port}/ingest",
                                     kinds=["activity"])
        records = wait_for(lambda: receiver.records(), what="a batch at the named endpoint")
        assert records[0]["kind"] == "activity" and records[0]["event"]["action"] == "log_drain.created", records[0]
        check_signatures(receiver, secret, drain["id"])
        assert drain_state(srv, acct.token, project, drain["id"]).get("last_error") is None
    finally:
        receiver.stop()


def test_bad_drains_are_refused_and_change_nothing(make_server):
    srv = make_server()
    acct = signup_and_login(srv)
    r = srv.request("POST", "/v1/projects", acct.token, json={"name": "p"})
    project = r.json()["id"]
    for body in ({"url": "http://127.0.0.1:9/x"}, {"url": "ftp://example.com"}, {"url": "not a url"},
                 {"url": "https://user:pw@example.com/x"}, {"url": "https://example.com", "kinds": ["metrics"]},
                 {"url": "https://example.com", "kinds": []}, {}):
        r = srv.request("POST", f"/v1/projects/{project}/log-drains", acct.token, json=body)
        assert r.status_code == 400, (body, r.status_code, r.text)
        assert r.headers["Content-Type"].startswith(PROBLEM)
    assert srv.request("GET", f"/v1/projects/{project}/log-drains", acct.token).json()["items"] == []
    actions = [e["action"] for e in api_events(srv, acct.token, project)]
    assert "log_drain.created" not in actions
    # Another account's project is not found, and so are unknown drains.
    other = signup_and_login(srv)
    r = srv.request("POST", f"/v1/projects/{project}/log-drains", other.token, json={"url": "https://example.com"})
    assert r.status_code == 404, r.text
    r = srv.request("DELETE", f"/v1/projects/{project}/log-drains/ldr_nope", acct.token)
    assert r.status_code == 404, r.text


def test_cli_creates_lists_and_deletes_drains(make_server, cli):
    srv = make_server()
    acct = signup_and_login(srv)
    r = srv.request("POST", "/v1/projects", acct.token, json={"name": "p", "slug": "drain-cli"})
    project = r.json()["id"]
    cli.login(srv, acct)
    created = cli.json("drain", "create", "--project", "drain-cli", "--kind", "activity", "https://drain.invalid/in")
    assert created["secret"].startswith("s4a_whsec_") and created["drain"]["kinds"] == ["activity"]
    out = cli.ok("drain", "list", "--project", project).stdout
    assert created["drain"]["id"] in out and created["secret"] not in out
    listed = cli.json("drain", "list", "--project", "drain-cli")
    assert [d["id"] for d in listed] == [created["drain"]["id"]]
    cli.ok("drain", "rm", "--project", "drain-cli", created["drain"]["id"])
    assert cli.json("drain", "list", "--project", "drain-cli") == []
    p = cli.run("drain", "create", "--project", "drain-cli", "http://127.0.0.1:9/in")
    assert p.returncode == 1 and "https" in p.stderr, p.stdout + p.stderr
