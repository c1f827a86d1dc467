"""Black-box tests of the real `s4a` binary: real TLS, real SQLite file, real CLI.

The binary is $S4A_BIN (default: .build/debug/s4a in the repository). Every server the
tests start listens on a free loopback port with its own temporary data directory and
bcrypt cost 4 (speed), and must stop within 10 s of SIGTERM with exit code 0.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

REPO_ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "correct horse battery staple"
STOP_TIMEOUT = 10.0
START_TIMEOUT = 60.0


def s4a_bin() -> Path:
    path = Path(os.environ.get("S4A_BIN") or REPO_ROOT / ".build" / "debug" / "s4a")
    if not path.is_absolute():
        path = (REPO_ROOT / path).resolve()
    if not os.access(path, os.X_OK):
        pytest.exit(f"no s4a binary at {path}: run `swift build` or set S4A_BIN", returncode=1)
    return path


def clean_env(**extra: str) -> dict[str, str]:
    """The test process's environment without any S4A_* setting, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("S4A_")}
    env.update(extra)
    return env


def wait_until(predicate, timeout: float = 30.0, interval: float = 0.2, what: str = "the condition"):
    """Polls `predicate` until it returns something truthy (returned), else fails the test."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    """One running `s4a serve`."""

    process: subprocess.Popen
    port: int
    data_dir: Path
    log_path: Path
    apps_domain: str = "apps.localhost"
    #: The CA of an operator's certificate (--tls-cert), else the local CA's file.
    ca_file: Path | None = None

    @property
    def base_url(self) -> str:
        return f"https://localhost:{self.port}"

    @property
    def ca(self) -> Path:
        return self.ca_file or self.data_dir / "tls" / "ca.pem"

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "s4a.sqlite"

    def url(self, path: str) -> str:
        return self.base_url + path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def request(self, method: str, path: str, token: str | None = None, **kw) -> requests.Response:
        headers = dict(kw.pop("headers", None) or {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        kw.setdefault("timeout", 15)
        return requests.request(method, self.url(path), headers=headers, verify=str(self.ca), **kw)

    def stop(self) -> int:
        """SIGTERM, then wait; returns the exit code. Kills and fails after 10 s."""
        if self.process.poll() is not None:
            return self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            stacks = self.thread_stacks()
            self.process.kill()
            self.process.wait()
            pytest.fail(f"s4a serve did not stop within {STOP_TIMEOUT} s of SIGTERM\n{self.log()}\n{stacks}")

    def thread_stacks(self) -> str:
        """Every thread's stack of a process that will not stop (what holds it), via gdb
        (the toolchain's lldb needs a libpython Debian 12 lacks); saved next to the log."""
        gdb = shutil.which("gdb")
        if not gdb:
            return "(no gdb for thread stacks)"
        try:
            out = subprocess.run([gdb, "-batch", "-p", str(self.process.pid), "-ex", "thread apply all bt"],
                                 capture_output=True, text=True, timeout=60).stdout
        except subprocess.TimeoutExpired:
            return "(gdb did not attach within 60 s)"
        path = self.log_path.with_suffix(".stacks")
        path.write_text(out)
        return f"thread stacks in {path}:\n{out[-20000:]}"


def start_server(data_dir: Path, *, via_env: bool = True, extra_env: dict[str, str] | None = None,
                 extra_args: list[str] | None = None, ca_file: Path | None = None) -> Server:
    """Start `s4a serve` and wait until https://localhost:PORT/healthz answers 200 over a
    connection verified against the server's own CA. `via_env` passes the data dir and the
    listen address as S4A_* variables instead of flags (both must work)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    last_log = ""
    for _attempt in range(3):  # a free port can be taken between probe and bind
        port = free_port()
        env = clean_env(S4A_BCRYPT_COST="4", **(extra_env or {}))
        args = [str(s4a_bin()), "serve"] + list(extra_args or [])
        if via_env:
            env["S4A_DATA_DIR"] = str(data_dir)
            env["S4A_LISTEN"] = f"127.0.0.1:{port}"
        else:
            args += ["--data-dir", str(data_dir), "--listen", f"127.0.0.1:{port}"]
        log_path = data_dir.parent / f"{data_dir.name}-serve-{port}.log"
        log = open(log_path, "wb")
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env,
                                stdin=subprocess.DEVNULL)
        log.close()
        server = Server(proc, port, data_dir, log_path, ca_file=ca_file)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                break
            if server.ca.exists():
                try:
                    r = server.request("GET", "/healthz", timeout=2)
                    if r.status_code == 200:
                        return server
                except requests.exceptions.RequestException:
                    pass
            time.sleep(0.1)
        else:
            proc.kill()
            proc.wait()
            pytest.fail(f"s4a serve did not answer /healthz within {START_TIMEOUT} s\n{server.log()}")
        last_log = server.log()
        if "Address already in use" not in last_log:
            break
    pytest.fail(f"s4a serve exited early with {proc.returncode}\n{last_log}")


def stop_server(server: Server) -> None:
    running = server.process.poll() is None  # a test may have killed it on purpose
    code = server.stop()
    try:
        assert not running or code == 0, f"s4a serve exited with {code} after SIGTERM\n{server.log()}"
    finally:
        destroy_all(server)


def kill_and_destroy(server: Server, root: Path) -> None:
    """A benchmark's end: its server killed, its servers destroyed, its directory gone."""
    server.process.kill()
    server.process.wait()
    destroy_all(server)
    shutil.rmtree(root, ignore_errors=True)


def runc_ids(data_dir: Path) -> list[str]:
    """The containers runc holds under a data directory's runtime."""
    out = subprocess.run(["runc", "--root", str(data_dir / "runtime" / "runc"), "list", "--format", "json"],
                         capture_output=True, text=True, check=True).stdout
    return sorted(c["id"] for c in (json.loads(out) or []))


def destroy_all(server: Server) -> None:
    """Servers outlive the control plane by design; a test leaves none behind."""
    clean = subprocess.run([str(s4a_bin()), "runtime", "destroy-all", "--data-dir", str(server.data_dir), "--yes"],
                           capture_output=True, text=True, timeout=120)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    loops = subprocess.run(["losetup", "--list", "--noheadings", "--output", "BACK-FILE"], capture_output=True, text=True)
    assert str(server.data_dir) not in loops.stdout, loops.stdout


@pytest.fixture(scope="session")
def server(tmp_path_factory) -> Server:
    """The shared server (configured through S4A_* environment variables)."""
    srv = start_server(tmp_path_factory.mktemp("shared") / "data", via_env=True)
    yield srv
    stop_server(srv)


@pytest.fixture
def make_server(tmp_path_factory):
    """Factory for extra, isolated servers (configured through flags); each is stopped at
    the end of the test and must exit cleanly."""
    started: list[Server] = []

    def make(**kw) -> Server:
        srv = start_server(tmp_path_factory.mktemp("own") / "data", via_env=False, **kw)
        started.append(srv)
        return srv

    def restart(old: Server, **kw) -> Server:
        """A new process on the stopped server's data directory."""
        assert old.process.poll() is not None, "stop it first"
        srv = start_server(old.data_dir, via_env=False, **kw)
        started.append(srv)
        return srv

    make.restart = restart
    yield make
    for srv in started:
        stop_server(srv)


# ---------------------------------------------------------------------------- accounts


@dataclass
class Account:
    email: str
    password: str
    token: str  # session token (s4s_…), also valid as a bearer token


def unique_email(tag: str = "user") -> str:
    return f"{tag}-{uuid.uuid4().hex[:12]}@example.com"


def signup(server: Server, email: str | None = None, password: str = PASSWORD) -> tuple[str, str]:
    email = email or unique_email()
    r = server.request("POST", "/v1/accounts", json={"email": email, "password": password})
    assert r.status_code == 201, r.text
    return email, password


def login(server: Server, email: str, password: str = PASSWORD) -> str:
    r = server.request("POST", "/v1/sessions", json={"email": email, "password": password})
    assert r.status_code == 201, r.text
    token = r.json()["token"]
    assert token
    return token


def signup_and_login(server: Server, email: str | None = None, password: str = PASSWORD) -> Account:
    email, password = signup(server, email, password)
    return Account(email, password, login(server, email, password))


@pytest.fixture
def account(server) -> Account:
    """A fresh account on the shared server, signed in over HTTP."""
    return signup_and_login(server)


# ---------------------------------------------------------------------------- the CLI


class Cli:
    """Runs the s4a binary with its own HOME (and XDG_CONFIG_HOME when asked) and no
    inherited S4A_* variables."""

    def __init__(self, home: Path, xdg_config_home: Path | None = None):
        self.home = home
        self.xdg_config_home = xdg_config_home
        home.mkdir(parents=True, exist_ok=True)

    @property
    def config_path(self) -> Path:
        base = self.xdg_config_home or self.home / ".config"
        return base / "s4a" / "config.json"

    def environment(self, env: dict[str, str] | None = None) -> dict[str, str]:
        e = clean_env(HOME=str(self.home))
        e.pop("XDG_CONFIG_HOME", None)
        if self.xdg_config_home:
            e["XDG_CONFIG_HOME"] = str(self.xdg_config_home)
        e.update(env or {})
        return e

    def run(self, *args: str, input: str | None = None, env: dict[str, str] | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run([str(s4a_bin()), *args], input=input, env=self.environment(env), capture_output=True,
                              text=True, timeout=timeout, cwd=self.home)

    def popen(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
        """A command that keeps running (`s4a logs -f`), its output read as it comes."""
        return subprocess.Popen([str(s4a_bin()), *args], env=self.environment(env), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, cwd=self.home)

    def ok(self, *args: str, **kw) -> subprocess.CompletedProcess:
        p = self.run(*args, **kw)
        assert p.returncode == 0, f"s4a {' '.join(args)} → {p.returncode}\n{p.stdout}\n{p.stderr}"
        return p

    def json(self, *args: str, **kw):
        return json.loads(self.ok(*args, "--json", **kw).stdout)

    def login(self, server: Server, acct: Account) -> subprocess.CompletedProcess:
        return self.ok("login", "--email", acct.email, "--password-stdin",
                       "--api-url", server.base_url, "--ca-cert", str(server.ca),
                       input=acct.password + "\n")


@pytest.fixture
def cli_factory(tmp_path):
    n = 0

    def make(xdg: bool = False) -> Cli:
        nonlocal n
        n += 1
        root = tmp_path / f"cli{n}"
        return Cli(root / "home", root / "xdg" if xdg else None)

    return make


@pytest.fixture
def cli(cli_factory) -> Cli:
    return cli_factory()


def have(tool: str) -> str:
    path = shutil.which(tool)
    if not path:
        pytest.fail(f"{tool} is required (make deps installs it)")
    return path


def throwaway_certificate(root: Path, ca_name: str, leaf_name: str) -> tuple[Path, Path, Path]:
    """A throwaway CA and a server certificate for localhost and 127.0.0.1 signed by it, made with
    openssl in `root`: (ca.pem, cert.pem, key.pem). For TLS that is not s4a's own local CA."""
    root.mkdir(parents=True, exist_ok=True)
    openssl = lambda *a: subprocess.run(["openssl", *a], check=True, capture_output=True, cwd=root)
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "ca-key.pem", "-out", "ca.pem", "-days", "2", "-subj", f"/CN={ca_name}")
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "key.pem", "-out", "cert.csr", "-subj", f"/CN={leaf_name}")
    (root / "ext.cnf").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    openssl("x509", "-req", "-in", "cert.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem", "-CAcreateserial",
            "-out", "cert.pem", "-days", "2", "-extfile", "ext.cnf")
    return root / "ca.pem", root / "cert.pem", root / "key.pem"
