"""TLS on the control plane's listener, checked with the system's openssl and curl
(trust contract line 6: TLS 1.2 or newer, modern ciphers, a local CA)."""

from __future__ import annotations

import re
import stat
import subprocess

import pytest

from conftest import have

# OpenSSL 3 on Debian refuses TLS 1.0/1.1 itself at its default security level; level 0
# lets the client offer them, so that any refusal comes from the server.
LEGACY_OK = "DEFAULT@SECLEVEL=0"


def s_client(server, *args: str) -> subprocess.CompletedProcess:
    have("openssl")
    return subprocess.run(
        ["openssl", "s_client", "-connect", f"127.0.0.1:{server.port}", "-servername", "localhost",
         "-CAfile", str(server.ca), *args],
        input="", capture_output=True, text=True, timeout=20)


def curl(server, *args: str, host: str = "localhost", path: str = "/healthz") -> subprocess.CompletedProcess:
    have("curl")
    return subprocess.run(
        ["curl", "-sS", "-v", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "15",
         "--resolve", f"{host}:{server.port}:127.0.0.1", *args, f"https://{host}:{server.port}{path}"],
        capture_output=True, text=True, timeout=30)


@pytest.mark.parametrize("version", ["-tls1", "-tls1_1"])
def test_legacy_tls_client_is_refused_by_the_server(server, version):
    p = s_client(server, version, "-cipher", LEGACY_OK)
    out = p.stdout + p.stderr
    assert p.returncode != 0, out
    # The client did send its hello: the server answered with a protocol_version alert (70).
    assert "alert protocol version" in out, out
    assert "SSL alert number 70" in out, out
    assert re.search(r"Cipher is \(NONE\)", out), out


@pytest.mark.parametrize("version,name", [("-tls1_2", "TLSv1.2"), ("-tls1_3", "TLSv1.3")])
def test_modern_tls_handshake_verifies_against_the_local_ca(server, version, name):
    p = s_client(server, version, "-verify_return_error", "-verify_hostname", "localhost")
    out = p.stdout + p.stderr
    assert p.returncode == 0, out
    assert re.search(rf"Protocol\s*:\s*{re.escape(name)}", out) or f"New, {name}" in out, out
    assert "Verify return code: 0 (ok)" in out, out


# CBC suites the client can negotiate with the server's ECDSA key: all must be refused.
@pytest.mark.parametrize("cipher", ["ECDHE-ECDSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA",
                                    "ECDHE-ECDSA-AES128-SHA256", "ECDHE-ECDSA-AES256-SHA384"])
def test_tls12_cbc_suites_are_refused(server, cipher):
    p = s_client(server, "-tls1_2", "-cipher", f"{cipher}:@SECLEVEL=0")
    out = p.stdout + p.stderr
    assert p.returncode != 0, out
    assert "Cipher is (NONE)" in out, out


def test_tls12_offers_only_aead_suites(server):
    p = s_client(server, "-tls1_2")
    out = p.stdout + p.stderr
    assert p.returncode == 0, out
    m = re.search(r"Cipher is (\S+)", out)
    assert m and re.search(r"GCM|CHACHA20", m.group(1)), out


@pytest.mark.parametrize("flags,name", [(["--tlsv1.2", "--tls-max", "1.2"], "TLSv1.2"),
                                        (["--tlsv1.3"], "TLSv1.3")])
def test_curl_succeeds_with_cacert(server, flags, name):
    p = curl(server, *flags, "--cacert", str(server.ca))
    assert p.returncode == 0, p.stderr
    assert p.stdout == "200", p.stdout
    assert f"SSL connection using {name}" in p.stderr, p.stderr


def test_curl_without_the_ca_fails_verification(server):
    p = curl(server, "--tlsv1.2")
    assert p.returncode == 60, p.stderr  # CURLE_PEER_FAILED_VERIFICATION


@pytest.mark.parametrize("host", ["localhost", "my-app.apps.localhost", "x-1.apps.localhost"])
def test_certificate_covers_api_host_and_apps_hosts(server, host):
    p = curl(server, "--cacert", str(server.ca), host=host, path="/")
    assert p.returncode == 0, p.stderr
    assert re.fullmatch(r"\d{3}", p.stdout), p.stdout


@pytest.mark.parametrize("host", ["a.b.apps.localhost", "evil.example.com", "localhost.evil.test"])
def test_certificate_does_not_cover_other_hosts(server, host):
    p = curl(server, "--cacert", str(server.ca), host=host, path="/")
    assert p.returncode == 60, p.stderr


def test_server_certificate_is_a_tls_server_leaf_issued_by_the_ca(server):
    have("openssl")
    tls = server.data_dir / "tls"
    chain = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{server.port}",
                            "-servername", "localhost", "-showcerts"],
                           input="", capture_output=True, text=True, timeout=20).stdout
    leaf = re.search(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", chain, re.S)
    assert leaf, chain
    leaf_path = tls.parent / "served-leaf.pem"
    leaf_path.write_text(leaf.group(0) + "\n")
    v = subprocess.run(["openssl", "verify", "-CAfile", str(server.ca), "-purpose", "sslserver",
                        str(leaf_path)], capture_output=True, text=True)
    assert v.returncode == 0 and ": OK" in v.stdout, v.stdout + v.stderr
    text = subprocess.run(["openssl", "x509", "-noout", "-text", "-in", str(leaf_path)],
                          capture_output=True, text=True, check=True).stdout
    assert "CA:FALSE" in text, text
    ca_text = subprocess.run(["openssl", "x509", "-noout", "-text", "-in", str(server.ca)],
                             capture_output=True, text=True, check=True).stdout
    assert "CA:TRUE" in ca_text, ca_text


def test_private_keys_are_mode_0600_and_the_ca_file_holds_none(server):
    tls = server.data_dir / "tls"
    keys = [p for p in tls.iterdir() if p.is_file() and "PRIVATE KEY" in p.read_text(errors="replace")]
    names = {p.name for p in keys}
    assert len(keys) >= 2, f"expected the CA key and the server key in {tls}, found {names}"
    assert "ca.pem" not in names
    for p in keys:
        mode = stat.S_IMODE(p.stat().st_mode)
        assert mode == 0o600, f"{p} is mode {mode:o}"
    # The private keys must match the certificates they belong to: one is the CA's.
    ca_pub = subprocess.run(["openssl", "x509", "-noout", "-pubkey", "-in", str(server.ca)],
                            capture_output=True, text=True, check=True).stdout
    key_pubs = [subprocess.run(["openssl", "pkey", "-pubout", "-in", str(p)],
                               capture_output=True, text=True, check=True).stdout for p in keys]
    assert ca_pub in key_pubs


def _max_age(value: str) -> int:
    m = re.search(r"max-age=(\d+)", value or "")
    return int(m.group(1)) if m else -1


@pytest.mark.parametrize("method,path,body", [
    ("GET", "/healthz", None),
    ("GET", "/v1/openapi.json", None),
    ("GET", "/v1/projects", None),            # 401
    ("GET", "/v1/nope", None),                # 404
    ("POST", "/v1/accounts", {"email": "x"}),  # 4xx
])
def test_hsts_on_api_answers(server, method, path, body):
    r = server.request(method, path, json=body)
    hsts = r.headers.get("Strict-Transport-Security")
    assert hsts, f"{method} {path} → {r.status_code} without HSTS"
    assert _max_age(hsts) >= 15552000, hsts  # at least 180 days
