"""Managed TLS by ACME, through the real binary against a real pebble on loopback: the API
host and each public project's host get a certificate from pebble, chosen by SNI; every other
name keeps the local CA's; the plain-HTTP listener answers HTTP-01 challenges and redirects
the API host and project URLs (only those) to HTTPS with 308.

pebble (Debian's package) validates HTTP-01 for real: pebble-challtestsrv is its DNS server
and answers every name with 127.0.0.1, and pebble's `httpPort` is s4a's --http-listen port.
The pebble test is skipped without /usr/bin/pebble, unless S4A_REQUIRE_PEBBLE=1 (as `make test`
sets); the others need no ACME server."""

from __future__ import annotations

import http.client
import json
import os
import socket
import ssl
import subprocess
import time
from pathlib import Path

import pytest
import requests

from conftest import free_port, have, signup_and_login, throwaway_certificate

PEBBLE = "/usr/bin/pebble"
CHALLTESTSRV = "/usr/bin/pebble-challtestsrv"
API_HOST = "api.s4a.test"

def require_pebble() -> None:
    if os.access(PEBBLE, os.X_OK) and os.access(CHALLTESTSRV, os.X_OK):
        return
    if os.environ.get("S4A_REQUIRE_PEBBLE") == "1":
        pytest.fail(f"S4A_REQUIRE_PEBBLE=1 but {PEBBLE} or {CHALLTESTSRV} is missing (apt-get install pebble)",
                    pytrace=False)
    pytest.skip(f"{PEBBLE} is not installed (apt-get install pebble)")


def wait_for_tcp(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"nothing listens on 127.0.0.1:{port}")


class Pebble:
    """pebble + pebble-challtestsrv on loopback, validating HTTP-01 on `http_port`."""

    def __init__(self, root: Path, http_port: int):
        have("openssl")
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        # pebble's own TLS: a throwaway CA and a certificate for 127.0.0.1 signed by it.
        self.tls_ca, tls_cert, tls_key = throwaway_certificate(root / "tls", "pebble test TLS CA", "127.0.0.1")
        acme, management, dns, dns_management = (free_port() for _ in range(4))
        (root / "pebble.json").write_text(json.dumps({"pebble": {
            "listenAddress": f"127.0.0.1:{acme}", "managementListenAddress": f"127.0.0.1:{management}",
            "certificate": str(tls_cert), "privateKey": str(tls_key),
            "httpPort": http_port, "tlsPort": free_port(), "ocspResponderURL": "",
            "externalAccountBindingRequired": False}}))
        self.directory_url = f"https://127.0.0.1:{acme}/dir"
        self.management_url = f"https://127.0.0.1:{management}"
        self.processes: list[subprocess.Popen] = []
        self.dns = self._launch("dns", [CHALLTESTSRV, "-dns01", f"127.0.0.1:{dns}", "-http01", "", "-https01", "",
                                        "-tlsalpn01", "", "-management", f"127.0.0.1:{dns_management}",
                                        "-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""], {})
        wait_for_tcp(dns)
        # Real validation (no PEBBLE_VA_ALWAYS_VALID); no random VA sleeps, no rejected nonces.
        self._launch("pebble", [PEBBLE, "-config", str(root / "pebble.json"), "-dnsserver", f"127.0.0.1:{dns}"],
                     {"PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0"})
        wait_for_tcp(acme)
        wait_for_tcp(management)

    def _launch(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen:
        log = open(self.root / f"{name}.log", "wb")
        process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   env={**os.environ, **env})
        log.close()
        self.processes.append(process)
        return process

    def root_pem(self) -> str:
        """pebble's issuing root (made anew at each start)."""
        r = requests.get(self.management_url + "/roots/0", verify=str(self.tls_ca), timeout=10)
        assert r.status_code == 200, r.text
        return r.text

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-4000:]}" for p in self.root.glob("*.log"))

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
def pebble_and_server(tmp_path, make_server):
    require_pebble()
    http_port = free_port()
    pebble = Pebble(tmp_path / "pebble", http_port)
    args = ["--acme-directory", pebble.directory_url, "--acme-ca-cert", str(pebble.tls_ca),
            "--acme-email", "ops@example.com", "--http-listen", f"127.0.0.1:{http_port}", "--api-host", API_HOST]
    try:
        srv = make_server(extra_args=args)
        srv.http_port = http_port
        srv.acme_args = args
        yield pebble, srv
    except BaseException:
        print(pebble.logs())
        raise
    finally:
        pebble.stop()


def leaf(srv, sni: str, **context) -> tuple[dict, bytes]:
    """Handshake with `sni`, verifying against `context` (cafile= or cadata=); the leaf parsed and in DER."""
    ctx = ssl.create_default_context(**context)
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname=sni) as tls:
            return tls.getpeercert(), tls.getpeercert(binary_form=True)


def verifies(srv, sni: str, **context) -> bool:
    try:
        leaf(srv, sni, **context)
        return True
    except ssl.SSLCertVerificationError:
        return False


def wait_for(predicate, what: str, srv, pebble, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}\n{srv.log()[-6000:]}\n{pebble.logs()}")


def plain(srv, host: str, target: str, method: str = "GET", headers: dict | None = None) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection("127.0.0.1", srv.http_port, timeout=10)
    connection.request(method, target, headers={"Host": host, **(headers or {})})
    response = connection.getresponse()
    response.body = response.read()
    connection.close()
    return response


def test_acme_certificates_by_sni_and_the_http_listener(pebble_and_server, make_server):
    pebble, srv = pebble_and_server
    root = pebble.root_pem()
    d = srv.apps_domain
    acct = signup_and_login(srv)
    shop = srv.request("POST", "/v1/projects", acct.token, json={"name": "shop", "slug": "acme-shop"}).json()
    hidden = srv.request("POST", "/v1/projects", acct.token, json={"name": "hidden", "slug": "acme-hidden"}).json()
    shop_host, hidden_host = f"acme-shop.{d}", f"acme-hidden.{d}"

    # The API host's certificate comes from pebble at start.
    wait_for(lambda: verifies(srv, API_HOST, cadata=root), "the API host's ACME certificate", srv, pebble)
    # A private project's name has the local CA's wildcard, not an ACME certificate.
    assert verifies(srv, shop_host, cafile=str(srv.ca)) and not verifies(srv, shop_host, cadata=root)

    r = srv.request("PATCH", f"/v1/projects/{shop['id']}", acct.token, json={"visibility": "public"})
    assert r.status_code == 200, r.text
    wait_for(lambda: verifies(srv, shop_host, cadata=root), "the public project's ACME certificate", srv, pebble)
    cert, shop_der = leaf(srv, shop_host, cadata=root)
    assert cert["subjectAltName"] == (("DNS", shop_host),), cert
    # Names without their own certificate keep the default: the unpublished project, an unknown
    # slug, localhost (what the test client itself uses).
    for name in (hidden_host, f"nosuch.{d}", "localhost"):
        assert verifies(srv, name, cafile=str(srv.ca)), name
        assert not verifies(srv, name, cadata=root), name
    assert srv.request("GET", "/healthz").status_code == 200

    # Stored under <data-dir>/tls/acme with private keys.
    acme_dir = srv.data_dir / "tls" / "acme"
    for name in (shop_host, API_HOST):
        assert (acme_dir / f"{name}.pem").is_file()
        assert (acme_dir / f"{name}.key").stat().st_mode & 0o777 == 0o600
    assert (acme_dir / "account.key").stat().st_mode & 0o777 == 0o600

    # The plain-HTTP listener: 308 to the same URL over HTTPS for project URLs and the API host.
    r = plain(srv, f"{shop_host}:{srv.http_port}", "/x?y=1")
    assert r.status == 308 and r.getheader("Location") == f"https://{shop_host}:{srv.port}/x?y=1", (r.status, r.headers)
    r = plain(srv, f"{API_HOST}:{srv.http_port}", "/v1/projects", method="POST")
    assert r.status == 308 and r.getheader("Location") == f"https://{API_HOST}:{srv.port}/v1/projects"
    # A planted challenge token is served as is; an unknown one is 404.
    challenges = acme_dir / "challenges"
    challenges.mkdir(parents=True, exist_ok=True)
    (challenges / "planted-Token_1").write_text("planted-Token_1.thumbprint")
    r = plain(srv, shop_host, "/.well-known/acme-challenge/planted-Token_1")
    assert (r.status, r.body) == (200, b"planted-Token_1.thumbprint")
    assert r.getheader("Content-Type").startswith("text/plain")
    assert plain(srv, shop_host, "/.well-known/acme-challenge/unknown-token").status == 404
    # Foreign hosts get 404, never a redirect (no open redirect), challenge paths included.
    for host in ("evil.example.net", f"evil.example.net:{srv.http_port}", d, f"a.b.{d}", "127.0.0.1"):
        r = plain(srv, host, "/x?y=1")
        assert r.status == 404 and r.getheader("Location") is None, host
    assert plain(srv, "evil.example.net", "/.well-known/acme-challenge/planted-Token_1").status == 404

    # Unpublished again: its name is back to the default certificate, like an unknown slug's.
    r = srv.request("PATCH", f"/v1/projects/{shop['id']}", acct.token, json={"visibility": "private"})
    assert r.status_code == 200, r.text
    wait_for(lambda: verifies(srv, shop_host, cafile=str(srv.ca)), "the private project's default certificate", srv, pebble)
    r = srv.request("PATCH", f"/v1/projects/{shop['id']}", acct.token, json={"visibility": "public"})
    assert r.status_code == 200, r.text
    wait_for(lambda: verifies(srv, shop_host, cadata=root), "the republished project's certificate", srv, pebble)
    assert leaf(srv, shop_host, cadata=root)[1] == shop_der  # the stored one, not a new order

    # A restart reloads the stored certificates: the same leaf, without a new order.
    srv.stop()
    again = make_server.restart(srv, extra_args=srv.acme_args)
    again.http_port = srv.http_port
    wait_for(lambda: verifies(again, shop_host, cadata=root), "the reloaded certificate", again, pebble)
    assert leaf(again, shop_host, cadata=root)[1] == shop_der
    assert "ACME order placed" not in again.log()


def test_an_unreachable_acme_server_leaves_the_local_ca_serving(tmp_path, make_server):
    """No ACME server answers: s4a serves anyway, with the local CA's certificate for the API
    host, and says why in its log (and keeps retrying with backoff)."""
    http_port = free_port()
    srv = make_server(extra_args=["--acme-directory", f"https://127.0.0.1:{free_port()}/dir",
                                  "--http-listen", f"127.0.0.1:{http_port}", "--api-host", API_HOST])
    deadline = time.monotonic() + 60
    while "ACME certificate not obtained" not in srv.log():
        assert time.monotonic() < deadline, srv.log()
        time.sleep(0.3)
    assert srv.request("GET", "/healthz").status_code == 200
    assert verifies(srv, API_HOST, cafile=str(srv.ca))
    line = next(l for l in srv.log().splitlines() if "ACME certificate not obtained" in l)
    assert "error" in line and API_HOST in line and "retry_in" in line, line


def test_the_http_listener_without_acme_has_the_https_sides_head_limits(make_server):
    """--http-listen alone: redirects, and the same head deadline and header bounds as HTTPS."""
    http_port = free_port()
    srv = make_server(extra_args=["--http-listen", f"127.0.0.1:{http_port}", "--header-timeout", "2"])
    srv.http_port = http_port
    host = f"shop.{srv.apps_domain}"
    r = plain(srv, host, "/a?b=c")
    assert r.status == 308 and r.getheader("Location") == f"https://{host}:{srv.port}/a?b=c"
    assert plain(srv, "localhost", "/.well-known/acme-challenge/nothing-here").status == 404
    # A 100 KiB header is refused.
    try:
        status = plain(srv, host, "/", headers={"X-Big": "a" * (100 << 10)}).status
    except (http.client.HTTPException, OSError):
        status = None
    assert status in (None, 400, 431), status
    # A head trickled a byte at a time is cut off at the deadline.
    with socket.create_connection(("127.0.0.1", http_port), timeout=10) as sock:
        sock.sendall(f"GET / HTTP/1.1\r\nHost: {host}\r\n".encode())
        sock.settimeout(0.5)
        started, closed = time.monotonic(), False
        for _ in range(12):
            try:
                sock.sendall(b"X")
                if sock.recv(1024) == b"":
                    closed = True
                    break
            except socket.timeout:
                continue
            except OSError:
                closed = True
                break
        assert closed and time.monotonic() - started < 5.5, "a trickled head kept the connection"
