"""Deploy, attach and a project's public URL, through the real binary, runc and TLS: the URL
serves nothing until the project is public (one identical 404 otherwise), bodies stream both
ways without being held in memory, Host tricks reach nothing, a crashed app restarts."""

from __future__ import annotations

import hashlib
import http.client
import json
import socket
import ssl
import time

from conftest import Server, signup_and_login, wait_until

APP = r'''
import hashlib, json, os, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOKEN = os.environ.get("APP_TOKEN", "none")

class App(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def reply(self, status, body, kind="text/plain"):
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/":
            self.reply(200, ("hello " + TOKEN).encode())
        elif self.path == "/headers":
            self.reply(200, json.dumps({k.lower(): v for k, v in self.headers.items()}).encode(), "application/json")
        elif self.path.startswith("/big"):
            size = 50 << 20
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(size))
            self.end_headers()
            block = b"z" * (1 << 20)
            for _ in range(50):
                self.wfile.write(block)
        elif self.path == "/crash":
            self.reply(200, b"bye")
            os._exit(3)
        else:
            self.reply(404, b"app 404")

    def do_POST(self):
        left = int(self.headers.get("Content-Length", "0"))
        digest = hashlib.sha256()
        while left:
            chunk = self.rfile.read(min(left, 1 << 20))
            if not chunk:
                break
            digest.update(chunk)
            left -= len(chunk)
        self.reply(200, digest.hexdigest().encode())

    def log_message(self, *args):
        sys.stderr.write("app: " + (args[0] % args[1:]) + "\n")

ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), App).serve_forever()
'''


class AppClient:
    """Raw HTTPS to the listener with the SNI and Host a test chooses."""

    def __init__(self, srv: Server, sni: str, tls: ssl.TLSVersion | None = None):
        ctx = ssl.create_default_context(cafile=str(srv.ca))
        if tls:
            ctx.minimum_version = ctx.maximum_version = tls
        raw = socket.create_connection(("127.0.0.1", srv.port), timeout=20)
        self.sock = ctx.wrap_socket(raw, server_hostname=sni)
        self.version = self.sock.version()

    def request(self, method: str, target: str, host: str | None, body: bytes = b"", headers: dict | None = None):
        lines = [f"{method} {target} HTTP/1.1"]
        if host is not None:
            lines.append(f"Host: {host}")
        for name, value in (headers or {}).items():
            lines.append(f"{name}: {value}")
        if body:
            lines.append(f"Content-Length: {len(body)}")
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        response = http.client.HTTPResponse(self.sock, method=method)
        response.begin()
        data = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, data

    def close(self):
        self.sock.close()


def comparable(answer):
    status, headers, body = answer
    return status, {k: v for k, v in headers.items() if k != "date"}, body


def deployed_app(srv: Server, token: str, slug: str, app_token: str) -> tuple[str, str]:
    project = srv.request("POST", "/v1/projects", token, json={"name": slug, "slug": slug}).json()
    assert project["visibility"] == "private"
    sid = srv.request("POST", "/v1/servers", token, json={
        "project_id": project["id"], "name": "web", "budget_usd": "5", "memory_mb": 256, "disk_mb": 256}).json()["id"]
    r = srv.request("POST", f"/v1/servers/{sid}/exec", token, json={"command": "cat > /root/app.py", "stdin": APP})
    assert r.status_code == 200 and r.json()["exit_code"] == 0, r.text
    r = srv.request("PUT", f"/v1/servers/{sid}/secrets/APP_TOKEN", token, json={"value": app_token})
    assert r.status_code in (200, 201), r.text
    r = srv.request("POST", f"/v1/servers/{sid}/deploy", token, json={"command": "exec python3 /root/app.py", "port": 8080})
    assert r.status_code == 201, r.text
    deployment = r.json()["deployment"]
    assert deployment["port"] == 8080 and deployment["restart"] == "always", deployment
    r = srv.request("POST", f"/v1/projects/{project['id']}/attach", token, json={"server_id": sid})
    assert r.status_code == 200 and r.json()["attached_server_id"] == sid, r.text
    return project["id"], sid



def test_a_private_url_serves_nothing_until_published(make_server):
    srv = make_server()
    acct = signup_and_login(srv)
    host = f"shop.{srv.apps_domain}:{srv.port}"
    project, sid = deployed_app(srv, acct.token, "shop", "tok-123")
    url = srv.request("GET", f"/v1/projects/{project}", acct.token).json()["url"]
    assert url == f"https://shop.{srv.apps_domain}:{srv.port}"

    def ask(h, target="/", sni=f"shop.{srv.apps_domain}"):
        client = AppClient(srv, sni)
        try:
            return client.request("GET", target, h)
        finally:
            client.close()

    unknown = ask(f"nosuch.{srv.apps_domain}:{srv.port}", sni=f"nosuch.{srv.apps_domain}")
    assert unknown[0] == 404
    # Private, deployed and attached: exactly what an unknown slug answers.
    wait_until(lambda: srv.request("GET", f"/v1/servers/{sid}", acct.token).json()["deployment"]["state"] == "healthy")
    assert comparable(ask(host)) == comparable(unknown)
    # Public: the app, over TLS 1.2 and 1.3 with the local CA.
    assert srv.request("PATCH", f"/v1/projects/{project}", acct.token, json={"visibility": "public"}).status_code == 200
    wait_until(lambda: ask(host)[0] == 200)  # running is not yet listening
    for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
        client = AppClient(srv, f"shop.{srv.apps_domain}", tls=version)
        status, headers, body = client.request("GET", "/", host)
        client.close()
        assert (status, body) == (200, b"hello tok-123"), (version, status, body)
    # The app sees who asked, as the ingress says, not as the client claims.
    client = AppClient(srv, f"shop.{srv.apps_domain}")
    seen = json.loads(client.request("GET", "/headers", host, headers={"X-Forwarded-For": "6.6.6.6",
                                                                      "Connection": "keep-alive, X-Secret-Hop",
                                                                      "X-Secret-Hop": "drop me"})[2])
    assert seen["x-forwarded-for"] == "127.0.0.1" and seen["x-forwarded-proto"] == "https", seen
    assert seen["x-forwarded-host"] == host and "x-secret-hop" not in seen, seen
    # Unpublished: the very next request on this kept-alive connection is the 404 again.
    assert srv.request("PATCH", f"/v1/projects/{project}", acct.token, json={"visibility": "private"}).status_code == 200
    assert comparable(client.request("GET", "/", host)) == comparable(unknown)
    client.close()
    assert srv.request("GET", f"/v1/projects/{project}", acct.token).json()["url"] == url
    # Detached: the 404 again even when public.
    srv.request("PATCH", f"/v1/projects/{project}", acct.token, json={"visibility": "public"})
    assert ask(host)[0] == 200
    assert srv.request("POST", f"/v1/projects/{project}/detach", acct.token).json().get("attached_server_id") is None
    assert comparable(ask(host)) == comparable(unknown)
    actions = [e["action"] for e in srv.request("GET", "/v1/activity?limit=100", acct.token).json()["items"]]
    for action in ("server.deployed", "server.attached", "server.detached"):
        assert action in actions, actions
    # The access lines are in the server's logs.
    lines = srv.request("GET", f"/v1/servers/{sid}/logs?q=GET", acct.token).json()["lines"]
    assert any(l["stream"] == "system" and "GET /headers 200" in l["text"] for l in lines), lines


def test_host_tricks_reach_nothing(make_server):
    srv = make_server()
    acct = signup_and_login(srv)
    public, public_sid = deployed_app(srv, acct.token, "open-shop", "public-token")
    private, _ = deployed_app(srv, acct.token, "closed-shop", "private-token")
    srv.request("PATCH", f"/v1/projects/{public}", acct.token, json={"visibility": "public"})
    d = srv.apps_domain
    wait_until(lambda: AppClient(srv, f"open-shop.{d}").request("GET", "/", f"open-shop.{d}")[0] == 200)

    def ask(sni, host, target="/"):
        client = AppClient(srv, sni)
        try:
            return client.request("GET", target, host)
        finally:
            client.close()

    assert ask(f"open-shop.{d}", f"open-shop.{d}")[2] == b"hello public-token"
    unknown = comparable(ask(f"nosuch.{d}", f"nosuch.{d}"))
    for sni, host, target in [
        (f"closed-shop.{d}", f"closed-shop.{d}", "/"),                      # private
        (f"open-shop.{d}", f"closed-shop.{d}", "/"),                        # SNI and Host disagree
        (f"closed-shop.{d}", f"closed-shop.{d}:1", "/"),                    # a Host with another port
        (f"open-shop.{d}", f"x.closed-shop.{d}", "/"),                      # nested labels
        (f"open-shop.{d}", d, "/"),                                         # the bare apps domain
        (f"open-shop.{d}", f"CLOSED-SHOP.{d.upper()}.", "/"),               # case and a trailing dot
    ]:
        answer = ask(sni, host, target)
        assert b"token" not in answer[2], (sni, host, answer)
        assert comparable(answer) == unknown, (sni, host, answer)
    # A suffix trick is not a project host: the API host answers (its dashboard sends the
    # visitor to sign in), never an app.
    status, headers, body = ask(f"open-shop.{d}", f"open-shop.{d}.evil")
    assert b"hello" not in body and status == 303 and headers.get("location") == "/signin", (status, headers, body)
    # Absolute-form targets naming another project: one Host decides (the server's HTTP/1
    # layer reduces the target to its path), so the private project is never reached.
    for host, target in [(f"open-shop.{d}", f"https://closed-shop.{d}/"), (f"closed-shop.{d}", f"https://open-shop.{d}/")]:
        status, _, body = ask(f"open-shop.{d}", host, target)
        assert b"private-token" not in body, (host, target, status, body)
        assert (status, body) in [(200, b"hello public-token"), (404, b"Not found.\n")], (host, target, status, body)
    # No Host at all: never an app.
    client = AppClient(srv, f"open-shop.{d}")
    client.sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
    data = client.sock.recv(65536)
    client.close()
    assert b"hello" not in data


def test_bodies_stream_and_a_crashed_app_restarts(make_server, cli_factory):
    srv = make_server(extra_args=["--probe-interval", "1"])
    acct = signup_and_login(srv)
    project, sid = deployed_app(srv, acct.token, "stream", "s")
    srv.request("PATCH", f"/v1/projects/{project}", acct.token, json={"visibility": "public"})
    host = f"stream.{srv.apps_domain}"
    # Running is not listening yet: wait for the app's first answer.
    wait_until(lambda: AppClient(srv, host).request("GET", "/", host)[0] == 200)

    def rss() -> int:
        for line in open(f"/proc/{srv.process.pid}/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        return 0

    before = rss()
    client = AppClient(srv, host)
    # 50 MiB down, read slowly in pieces: the ingress must not buffer it.
    client.sock.sendall(f"GET /big HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    response = http.client.HTTPResponse(client.sock, method="GET")
    response.begin()
    assert response.status == 200 and response.getheader("content-length") == str(50 << 20)
    total, peak = 0, 0
    while chunk := response.read(1 << 20):
        total += len(chunk)
        if total % (8 << 20) < (1 << 20):
            time.sleep(0.05)
            peak = max(peak, rss())
    assert total == 50 << 20
    # 50 MiB up, streamed to the app.
    blob = hashlib.sha256(b"seed").digest() * (50 * 32768)
    status, _, digest = client.request("POST", "/upload", host, body=blob)
    peak = max(peak, rss())
    client.close()
    assert status == 200 and digest.decode() == hashlib.sha256(blob).hexdigest()
    assert peak - before < 40 << 20, f"RSS grew {(peak - before) >> 20} MiB while 50 MiB streamed"

    # Killed, it restarts by its policy; the deployment shows the crash.
    client = AppClient(srv, host)
    assert client.request("GET", "/crash", host)[0] == 200
    client.close()
    server = wait_until(lambda: (s := srv.request("GET", f"/v1/servers/{sid}", acct.token).json())
                        ["deployment"]["restarts"] >= 1 and s["deployment"]["state"] == "healthy" and s)
    assert server["deployment"]["last_exit_code"] == 3, server["deployment"]
    assert wait_until(lambda: AppClient(srv, host).request("GET", "/", host)[0] == 200)
    # The monitor saw the crash: an incident that ended once the app answered again.
    uptime = wait_until(lambda: (u := srv.request("GET", f"/v1/projects/{project}/uptime", acct.token).json())
                        ["incidents"] and "ended_at" in u["incidents"][0] and u)
    incident = uptime["incidents"][0]
    assert incident["server_id"] == sid and "code 3" in incident["reason"], incident
    assert 0 < uptime["availability_24h"] < 1 and uptime["probes_24h"] >= 2, uptime
    actions = [e["action"] for e in srv.request("GET", "/v1/activity?limit=100", acct.token).json()["items"]]
    assert "server.app_crashed" in actions and "server.app_recovered" in actions, actions
    cli = cli_factory()
    env = {"S4A_API_URL": srv.base_url, "S4A_API_KEY": acct.token, "S4A_CA_CERT": str(srv.ca)}
    out = cli.ok("uptime", "stream", env=env).stdout
    assert "over 24 hours" in out and incident["reason"][:20] in out, out
    # Stopped: 503; its app comes back with it.
    srv.request("POST", f"/v1/servers/{sid}/stop", acct.token)
    assert AppClient(srv, host).request("GET", "/", host)[0] == 503
    srv.request("POST", f"/v1/servers/{sid}/start", acct.token)
    assert wait_until(lambda: AppClient(srv, host).request("GET", "/", host)[0] == 200)
    # Redeployed on a port nothing listens on: 502, and the old app's processes are gone.
    r = srv.request("POST", f"/v1/servers/{sid}/deploy", acct.token, json={"command": "sleep 1000", "port": 9999, "wait": False})
    assert r.status_code == 201, r.text
    assert AppClient(srv, host).request("GET", "/", host)[0] == 502
    ps = srv.request("POST", f"/v1/servers/{sid}/exec", acct.token, json={"command": "ps -eo args"}).json()["stdout"]
    assert "app.py" not in ps and "sleep 1000" in ps, ps


def test_slow_or_huge_heads_are_cut_off_before_any_app(make_server):
    srv = make_server(extra_args=["--header-timeout", "2"])
    acct = signup_and_login(srv)
    project, sid = deployed_app(srv, acct.token, "guarded", "g")
    srv.request("PATCH", f"/v1/projects/{project}", acct.token, json={"visibility": "public"})
    host = f"guarded.{srv.apps_domain}"
    wait_until(lambda: AppClient(srv, host).request("GET", "/", host)[0] == 200)
    # Slowloris: a head trickled a byte a second is cut off at the deadline.
    client = AppClient(srv, host)
    client.sock.sendall(f"GET / HTTP/1.1\r\nHost: {host}\r\n".encode())
    started = time.monotonic()
    closed = False
    client.sock.settimeout(0.5)
    for _ in range(12):
        try:
            client.sock.sendall(b"X")
            if client.sock.recv(1024) == b"":
                closed = True
                break
        except socket.timeout:
            continue  # still open, nothing said
        except (ssl.SSLError, OSError):
            closed = True
            break
    assert closed and time.monotonic() - started < 5.5, "a trickled head kept the connection"
    # An idle kept-alive connection is closed too; a prompt one is served.
    client = AppClient(srv, host)
    assert client.request("GET", "/", host)[0] == 200
    time.sleep(3)
    try:
        client.request("GET", "/", host)
        reused = True
    except (http.client.HTTPException, OSError):
        reused = False
    assert not reused
    # A 100 KiB header never reaches the app.
    client = AppClient(srv, host)
    try:
        status = client.request("GET", "/headers", host, headers={"X-Big": "a" * (100 << 10)})[0]
    except (http.client.HTTPException, OSError):
        status = None
    assert status in (None, 400, 431), status
    lines = srv.request("GET", f"/v1/servers/{sid}/logs?q=x-big", acct.token).json()["lines"]
    assert not lines


WS_APP = r'''
import base64, hashlib, os, socket, struct, threading

def frames(conn):
    while True:
        head = conn.recv(2, socket.MSG_WAITALL)
        if len(head) < 2:
            return
        opcode, size = head[0] & 15, head[1] & 127
        if size == 126:
            size = struct.unpack(">H", conn.recv(2, socket.MSG_WAITALL))[0]
        elif size == 127:
            size = struct.unpack(">Q", conn.recv(8, socket.MSG_WAITALL))[0]
        mask = conn.recv(4, socket.MSG_WAITALL) if head[1] & 128 else b"\0\0\0\0"
        data = bytes(b ^ mask[i % 4] for i, b in enumerate(conn.recv(size, socket.MSG_WAITALL)))
        yield opcode, data

def send(conn, opcode, data):
    size = len(data)
    head = bytes([128 | opcode]) + (bytes([size]) if size < 126 else bytes([126]) + struct.pack(">H", size))
    conn.sendall(head + data)

def serve(conn):
    request = b""
    while b"\r\n\r\n" not in request:
        request += conn.recv(4096)
    headers = dict(line.split(": ", 1) for line in request.decode().split("\r\n")[1:] if ": " in line)
    key = {k.lower(): v for k, v in headers.items()}.get("sec-websocket-key", "")
    accept = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
    conn.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  f"Sec-WebSocket-Accept: {accept}\r\n\r\n").encode())
    for opcode, data in frames(conn):
        if opcode == 8:
            send(conn, 8, data)
            break
        send(conn, opcode, b"echo:" + data)
    conn.close()

server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", int(os.environ["PORT"])))
server.listen()
while True:
    connection, _ = server.accept()
    threading.Thread(target=serve, args=(connection,), daemon=True).start()
'''


def test_a_websocket_app_works_through_the_url(make_server):
    import base64
    import os
    import struct

    srv = make_server()
    acct = signup_and_login(srv)
    project = srv.request("POST", "/v1/projects", acct.token, json={"name": "chat", "slug": "chat"}).json()["id"]
    sid = srv.request("POST", "/v1/servers", acct.token, json={
        "project_id": project, "name": "ws", "budget_usd": "5", "memory_mb": 128, "disk_mb": 64}).json()["id"]
    srv.request("POST", f"/v1/servers/{sid}/exec", acct.token, json={"command": "cat > /root/ws.py", "stdin": WS_APP})
    srv.request("POST", f"/v1/servers/{sid}/deploy", acct.token, json={"command": "exec python3 /root/ws.py"})
    srv.request("POST", f"/v1/projects/{project}/attach", acct.token, json={"server_id": sid})
    host = f"chat.{srv.apps_domain}"

    def handshake(host=host):
        client = AppClient(srv, host)
        key = base64.b64encode(os.urandom(16)).decode()
        client.sock.sendall((f"GET /socket HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                             f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = client.sock.recv(4096)
            if not chunk:
                break
            answer += chunk
        return client, answer

    # Private: not upgraded, and answered exactly as an unknown slug is (a refused upgrade is
    # hummingbird-websocket's bare 400, the same for both).
    client, answer = handshake()
    client.close()
    client, unknown = handshake(f"nosuch.{srv.apps_domain}")
    client.close()
    assert not answer.startswith(b"HTTP/1.1 101") and answer == unknown, (answer, unknown)
    srv.request("PATCH", f"/v1/projects/{project}", acct.token, json={"visibility": "public"})
    client, answer = wait_until(lambda: (h := handshake())[1].startswith(b"HTTP/1.1 101") and h)
    sock = client.sock

    def send(opcode, data):
        mask = os.urandom(4)
        sock.sendall(bytes([128 | opcode, 128 | len(data)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def receive():
        head = sock.recv(2)
        size = head[1] & 127
        if size == 126:
            size = struct.unpack(">H", sock.recv(2))[0]
        data = b""
        while len(data) < size:
            data += sock.recv(size - len(data))
        return head[0] & 15, data

    send(1, b"hello")
    assert receive() == (1, b"echo:hello")
    send(2, b"\x00\x01\x02")
    assert receive() == (2, b"echo:\x00\x01\x02")
    send(8, struct.pack(">H", 1000))
    opcode, _ = receive()
    assert opcode == 8
    client.close()
    lines = srv.request("GET", f"/v1/servers/{sid}/logs?q=websocket", acct.token).json()["lines"]
    assert any("101 websocket" in l["text"] for l in lines), lines


def test_an_app_failing_its_health_path_is_an_incident_and_is_restarted(make_server):
    """A process that runs but answers 500 on its health path: probed over HTTP, an incident after
    two failures, restarted after three (its policy is `always`)."""
    srv = make_server(extra_args=["--probe-interval", "1"])
    acct = signup_and_login(srv)
    project = srv.request("POST", "/v1/projects", acct.token, json={"name": "sick"}).json()["id"]
    sid = srv.request("POST", "/v1/servers", acct.token, json={
        "project_id": project, "name": "sick", "budget_usd": "5", "memory_mb": 128, "disk_mb": 64}).json()["id"]
    sick = ("import http.server, os\n"
            "class H(http.server.BaseHTTPRequestHandler):\n"
            "    def do_GET(self):\n"
            "        self.send_response(500 if self.path == '/healthz' else 200); self.end_headers()\n"
            "http.server.HTTPServer(('127.0.0.1', int(os.environ['PORT'])), H).serve_forever()\n")
    srv.request("POST", f"/v1/servers/{sid}/exec", acct.token, json={"command": "cat > /root/sick.py", "stdin": sick})
    r = srv.request("POST", f"/v1/servers/{sid}/deploy", acct.token,
                    json={"command": "exec python3 /root/sick.py", "health_path": "/healthz", "wait": False})
    assert r.status_code == 201 and r.json()["deployment"]["health_path"] == "/healthz", r.text
    uptime = wait_until(lambda: (u := srv.request("GET", f"/v1/projects/{project}/uptime", acct.token).json())
                        ["incidents"] and u, timeout=60)
    assert "HTTP 500" in uptime["incidents"][0]["reason"] and "ended_at" not in uptime["incidents"][0], uptime
    # Restarted by the monitor: its supervisor says "started" again.
    def starts():
        lines = srv.request("GET", f"/v1/servers/{sid}/logs", acct.token).json()["lines"]
        return sum(1 for l in lines if l["stream"] == "system" and l["text"] == "started") >= 2
    wait_until(starts, timeout=60)
    uptime = srv.request("GET", f"/v1/projects/{project}/uptime", acct.token).json()
    assert uptime["availability_24h"] == 0, uptime
    # The monitor's restart is counted, on the deployment and on the one incident.
    app = srv.request("GET", f"/v1/servers/{sid}", acct.token).json()["deployment"]
    assert app["restarts"] >= 1 and app["state"] in ("starting", "unhealthy", "crash-looping"), app
    assert len(uptime["incidents"]) == 1 and uptime["incidents"][0]["crashes"] >= 1, uptime
