"""Account export through the real binary: every record of an account with two projects,
servers (real runc), secrets, runs and logs is in the archive, no secret value, token or
token hash is; the link works once and expires; a 200 MB disk streams through with the
control plane's memory bounded; and the CLI's export and delete."""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import os
import re
import sqlite3
import tarfile
import time

import requests

from conftest import PASSWORD, Server, login, wait_until
from test_account_deletion import account_id, make_account

PROBLEM = "application/problem+json"


def create_export(srv: Server, token: str, include_files: bool = False) -> dict:
    r = srv.request("POST", "/v1/account/export" + ("?include_files=true" if include_files else ""), token,
                    json={"password": PASSWORD})
    assert r.status_code == 201, r.text
    return r.json()


def download(srv: Server, url: str, **kw) -> requests.Response:
    # No credentials: the link is the credential.
    return requests.get(url, verify=str(srv.ca), timeout=kw.pop("timeout", 120), **kw)


def members(archive: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        return {m.name: (tar.extractfile(m).read() if m.isfile() else b"") for m in tar.getmembers()}


def jsonl(data: bytes) -> list[dict]:
    return [json.loads(line) for line in data.decode().splitlines() if line]


def test_export_holds_every_record_and_no_secret(make_server):
    srv = make_server()
    acct, projects, server_ids, values, key = make_account(srv, servers=2)
    me = account_id(srv, acct.token)
    wait_until(lambda: any("tick" in line["text"] for line in
                           srv.request("GET", f"/v1/servers/{server_ids[0]}/logs", acct.token).json()["lines"]),
               timeout=15, what="'tick' in the first server's logs")
    second_session = login(srv, acct.email)

    # Only a signed-in person with the password.
    assert srv.request("POST", "/v1/account/export", key["token"], json={"password": PASSWORD}).status_code == 403
    r = srv.request("POST", "/v1/account/export", acct.token, json={"password": "nope"})
    assert r.status_code == 403 and r.headers["Content-Type"].startswith(PROBLEM), r.text

    link = create_export(srv, acct.token)
    assert link["download_url"].startswith(srv.base_url + "/v1/exports/s4x_")
    r = download(srv, link["download_url"])
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == "application/gzip"
    assert "attachment" in r.headers["Content-Disposition"] and r.headers["Cache-Control"] == "no-store"
    archive = r.content
    files = members(archive)
    root = "s4a-export/"

    account = json.loads(files[root + "account.json"])
    assert account["id"] == me and account["email"] == acct.email and "password_hash" not in account
    assert sorted(p["id"] for p in json.loads(files[root + "projects.json"])) == sorted(projects)
    # Times as the API writes them: UTC, to the millisecond.
    exported = json.loads(files[root + "projects.json"])[0]
    assert exported["created_at"] == srv.request("GET", f"/v1/projects/{exported['id']}", acct.token).json()["created_at"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", account["created_at"]), account
    servers = {s["id"]: s for s in json.loads(files[root + "servers.json"])}
    assert set(server_ids) <= set(servers) and servers[server_ids[1]]["state"] == "stopped"
    keys = json.loads(files[root + "api_keys.json"])
    assert [k["id"] for k in keys] == [key["key"]["id"]]
    assert not {"token", "token_hash", "hash"} & set(keys[0]), keys[0]
    names = sorted((s["scope"], s["name"]) for s in json.loads(files[root + "secrets.json"]))
    assert names == [("project", "TOKEN"), ("project", "TOKEN"), ("server", "OWN")]

    # The activity chain, whole and linked, the export's own event included.
    events = jsonl(files[root + "activity.jsonl"])
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert all(b["prev_hash"] == a["hash"] for a, b in zip(events, events[1:]))
    served = srv.request("GET", "/v1/activity?limit=200", acct.token).json()["items"]
    assert {e["id"] for e in served} == {e["id"] for e in events}
    assert events[-1]["action"] == "account.exported"
    # Line for line what the audit export writes (which test_activity_export checks hash by hash).
    audit = srv.request("GET", "/v1/activity/export?format=jsonl", acct.token)
    assert audit.status_code == 200, audit.text
    assert files[root + "activity.jsonl"].splitlines() == audit.content.splitlines()[:len(events)]

    runs = jsonl(files[root + "runs.jsonl"])
    execs = [run for run in runs if run["kind"] == "exec"]
    assert execs and execs[0]["stdout"] == "***\n", execs  # masked when it ran
    assert any(run["kind"] == "background" for run in runs)
    logs = jsonl(files[root + f"logs/{server_ids[0]}.jsonl"])
    assert any(line["text"] == "tick" for line in logs)
    ledger = jsonl(files[root + "ledger.jsonl"])
    assert ledger and {e["server_id"] for e in ledger} <= set(server_ids)
    for sample in jsonl(files[root + "usage.jsonl"]):
        assert sample["server_id"] in server_ids
    manifest = json.loads(files[root + "manifest.json"])
    assert manifest["account_id"] == me and manifest["include_files"] is False

    # No secret value, token or token hash anywhere in it, compressed or not.
    tar_bytes = gzip.decompress(archive)
    for needle in [*values, key["token"], acct.token, second_session]:
        for form in (needle, hashlib.sha256(needle.encode()).hexdigest()):
            assert form.encode() not in tar_bytes and form.encode() not in archive, f"{form[:8]}… is in the export"

    # Once only; an expired link answers as a used one does.
    again = download(srv, link["download_url"])
    assert again.status_code == 410 and again.headers["Content-Type"].startswith(PROBLEM), again.text
    late = create_export(srv, acct.token)
    with sqlite3.connect(srv.sqlite_path) as conn:
        conn.execute("UPDATE exports SET expires_at = 1")
    expired = download(srv, late["download_url"])
    assert expired.status_code == 410 and expired.json() == {**again.json()}, expired.text
    forged = download(srv, srv.base_url + "/v1/exports/s4x_" + "A" * 43)
    assert forged.status_code == 410 and forged.json() == again.json()
    # Used and expired links leave no row; a live one is stored as its token's hash only, and
    # an Idempotency-Key does not make the request (its body holds the password) stored.
    with sqlite3.connect(srv.sqlite_path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM exports").fetchone()[0] == 0
    r = srv.request("POST", "/v1/account/export", acct.token, json={"password": PASSWORD},
                    headers={"Idempotency-Key": "export-once"})
    assert r.status_code == 201, r.text
    token = r.json()["download_url"].rsplit("/", 1)[-1]
    with sqlite3.connect(srv.sqlite_path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM idempotency_records").fetchone()[0] == 0
        rows = conn.execute("SELECT * FROM exports").fetchall()
    assert len(rows) == 1 and hashlib.sha256(token.encode()).hexdigest() in rows[0]
    assert token not in " ".join(map(str, rows[0]))


def rss_bytes(pid: int) -> int:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def test_a_200_mb_disk_streams_with_bounded_memory(make_server):
    srv = make_server()
    acct, _, server_ids, _, _ = make_account(srv)
    server = server_ids[0]
    # A fresh server with room for 200 MB of incompressible data.
    project = srv.request("GET", f"/v1/servers/{server}", acct.token).json()["project_id"]
    r = srv.request("POST", "/v1/servers", acct.token,
                    json={"project_id": project, "name": "big", "budget_usd": "5", "memory_mb": 128, "disk_mb": 400})
    assert r.status_code == 201, r.text
    big = r.json()["id"]
    r = srv.request("POST", f"/v1/servers/{big}/exec", acct.token, timeout=300,
                    json={"command": "head -c 200M /dev/urandom > /root/big && sha256sum /root/big | cut -d' ' -f1",
                          "timeout_s": 240})
    assert r.status_code == 200 and r.json()["exit_code"] == 0, r.text
    digest = r.json()["stdout"].strip()

    link = create_export(srv, acct.token, include_files=True)
    pid = srv.process.pid
    before = rss_bytes(pid)
    peak = before
    inner = hashlib.sha256()
    path = srv.data_dir.parent / "export.tar.gz"
    with download(srv, link["download_url"], stream=True, timeout=600) as r, open(path, "wb") as out:
        assert r.status_code == 200, r.text
        chunks = r.iter_content(chunk_size=1 << 16)
        out.write(next(chunks))
        # A client that stops reading: the plane must wait, not buffer the archive.
        for _ in range(10):
            time.sleep(0.5)
            peak = max(peak, rss_bytes(pid))
        count = 0
        for chunk in chunks:
            out.write(chunk)
            count += 1
            if count % 64 == 0:
                peak = max(peak, rss_bytes(pid))
                time.sleep(0.01)  # slowly
    growth = peak - before
    print(f"control plane RSS: {before >> 20} MiB before, peak {peak >> 20} MiB while streaming")
    assert growth < 64 << 20, f"the control plane grew by {growth >> 20} MiB while streaming"

    with tarfile.open(path, mode="r:gz") as tar:
        member = tar.getmember(f"s4a-export/files/{big}/root/big")
        assert member.size == 200 << 20
        f = tar.extractfile(member)
        while block := f.read(1 << 20):
            inner.update(block)
        assert inner.hexdigest() == digest
        names = tar.getnames()
        manifest = json.loads(tar.extractfile("s4a-export/manifest.json").read())
    assert f"s4a-export/files/{server}/root/f" in names
    assert manifest["files"][big] == "included"
    # Nothing of the host came along: not its /usr, nor the server's /proc or /tmp.
    assert not [n for n in names if n.startswith((f"s4a-export/files/{big}/usr/", f"s4a-export/files/{big}/proc/"))]
    path.unlink()


def forged_tar() -> bytes:
    """What a replaced `tar` would print: a forged account record, climbing and absolute names."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for name in ("s4a-export/account.json", "../../s4a-export/activity.jsonl", "/etc/forged", "./../up"):
            data = b'{"email":"forged@example.com"}\n'
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def test_a_server_that_replaces_its_programs_cannot_forge_the_export(make_server):
    """The server replaces /bin and /sbin (its writable layer) with programs that log to a
    marker and print a forged archive: file operations and the export run none of them, and
    the export's names all stay under files/<server>/."""
    srv = make_server()
    acct, _, server_ids, _, _ = make_account(srv)
    server = server_ids[0]
    fake = base64.b64encode(forged_tar()).decode()
    setup = f"""set -e
mkdir -p /root/fake /srv/odd
echo {fake} | base64 -d > /root/fake/forged.tar
python3 -c "import os
for n in (b'line\\nbreak', b'bad-\\xff-utf8', b'long-' + b'n' * 200, 'ünï'.encode()):
    open(b'/srv/odd/' + n, 'wb').write(b'x')"
for p in sh tar find cat rm mkdir ls; do
  printf '#!/usr/bin/dash\\necho "$0 $*" >> /root/ran\\n/usr/bin/cat /root/fake/forged.tar\\n' > /root/fake/$p
  chmod 755 /root/fake/$p
done
rm /bin /sbin; cp -a /root/fake /bin; cp -a /root/fake /sbin
"""
    r = srv.request("POST", f"/v1/servers/{server}/exec", acct.token, json={"command": setup})
    assert r.status_code == 200 and r.json()["exit_code"] == 0, r.text
    files = f"/v1/servers/{server}/files/"
    assert srv.request("PUT", files + "srv%2Fnew%2Fa.txt", acct.token, data=b"hello").status_code == 204
    assert srv.request("GET", files + "srv%2Fnew%2Fa.txt", acct.token).content == b"hello"
    listing = srv.request("GET", f"/v1/servers/{server}/files?dir=/srv/odd", acct.token)
    assert listing.status_code == 200 and len(listing.json()["items"]) == 4, listing.text
    tar = srv.request("GET", f"/v1/servers/{server}/archive?dir=/srv", acct.token)
    assert tar.status_code == 200
    with tarfile.open(fileobj=io.BytesIO(tar.content)) as t:
        names = t.getnames()
    assert "new/a.txt" in names and "odd/line\nbreak" in names and "odd/ünï" in names, names
    assert not [n for n in names if n.startswith("/") or ".." in n.split("/") or "forged" in n]
    r = srv.request("PUT", f"/v1/servers/{server}/archive?dir=/restored", acct.token, data=tar.content,
                    headers={"Content-Type": "application/x-tar"})
    assert r.status_code == 204, r.text
    assert srv.request("GET", files + "restored%2Fnew%2Fa.txt", acct.token).content == b"hello"
    r = srv.request("PUT", f"/v1/servers/{server}/archive?dir=/restored", acct.token, data=forged_tar(),
                    headers={"Content-Type": "application/x-tar"})
    assert r.status_code == 422 and r.headers["Content-Type"].startswith(PROBLEM), r.text
    assert srv.request("DELETE", files + "restored", acct.token).status_code == 204

    link = create_export(srv, acct.token, include_files=True)
    r = download(srv, link["download_url"])
    assert r.status_code == 200, r.text
    with tarfile.open(fileobj=io.BytesIO(r.content), mode="r:gz") as t:
        names = t.getnames()
        account = json.loads(t.extractfile("s4a-export/account.json").read())
        manifest = json.loads(t.extractfile("s4a-export/manifest.json").read())
    assert account["email"] == acct.email
    prefix = f"s4a-export/files/{server}/"
    assert names.count("s4a-export/account.json") == 1 and names.count("s4a-export/activity.jsonl") == 1
    for name in names:
        assert not name.startswith("/") and ".." not in name.split("/"), name
        assert not name.startswith("s4a-export/files/") or name.startswith(prefix) or name == prefix.rstrip("/"), name
    assert prefix + "srv/new/a.txt" in names and prefix + "srv/odd/line\nbreak" in names
    assert not [n for n in names if n.startswith((prefix + "proc/", prefix + "sys/", prefix + "dev/"))]
    # The name that is not UTF-8 is left out, and the manifest says so.
    assert manifest["files"][server].startswith("included; 1 entries left out"), manifest

    # None of the server's programs ran; the marker works when one does.
    assert srv.request("GET", files + "root%2Fran", acct.token).status_code == 404
    srv.request("POST", f"/v1/servers/{server}/exec", acct.token, json={"command": "true"})
    assert b"/bin/sh" in srv.request("GET", files + "root%2Fran", acct.token).content


def test_an_archive_stops_when_its_client_leaves(make_server):
    """GET …/archive streams as it is made; a client that goes away mid-file ends the work:
    the control plane soon holds no descriptor of the file it was reading."""
    srv = make_server()
    acct, _, server_ids, _, _ = make_account(srv)
    server = server_ids[0]
    project = srv.request("GET", f"/v1/servers/{server}", acct.token).json()["project_id"]
    r = srv.request("POST", "/v1/servers", acct.token,
                    json={"project_id": project, "name": "big", "budget_usd": "5", "memory_mb": 128, "disk_mb": 300})
    assert r.status_code == 201, r.text
    big = r.json()["id"]
    r = srv.request("POST", f"/v1/servers/{big}/exec", acct.token, timeout=120,
                    json={"command": "head -c 200M /dev/zero > /root/big", "timeout_s": 100})
    assert r.status_code == 200 and r.json()["exit_code"] == 0, r.text

    def reading_big() -> bool:
        fds = f"/proc/{srv.process.pid}/fd"
        names = []
        for fd in os.listdir(fds):
            try:
                names.append(os.readlink(f"{fds}/{fd}"))
            except OSError:
                pass
        return any(name.endswith("/root/big") for name in names)

    with srv.request("GET", f"/v1/servers/{big}/archive?dir=/root", acct.token, stream=True) as r:
        assert r.status_code == 200
        next(r.iter_content(chunk_size=1 << 16))
        wait_until(reading_big, timeout=10, what="the control plane reading /root/big")
    # The client left with most of 200 MB unread.
    wait_until(lambda: not reading_big(), timeout=15, what="the archive's work to end")


def test_cli_exports_and_deletes_with_a_typed_confirmation(make_server, cli):
    srv = make_server()
    acct, projects, server_ids, values, _ = make_account(srv)
    cli.login(srv, acct)
    out = cli.home / "mine.tar.gz"
    p = cli.ok("account", "export", "-o", str(out), "--password-stdin", input=PASSWORD + "\n")
    assert str(out) in p.stdout
    files = members(out.read_bytes())
    assert json.loads(files["s4a-export/account.json"])["email"] == acct.email
    assert not any(v.encode() in b"".join(files.values()) for v in values)

    p = cli.run("account", "delete", "--confirm", "someone@else.example", "--password-stdin", input=PASSWORD + "\n")
    assert p.returncode != 0 and "nothing was deleted" in p.stderr, p.stderr
    assert srv.request("GET", "/v1/account", acct.token).status_code == 200

    p = cli.run("account", "delete", "--confirm", acct.email, "--password-stdin", input="wrong\n")
    assert p.returncode != 0 and PASSWORD not in p.stdout + p.stderr
    assert srv.request("GET", "/v1/account", acct.token).status_code == 200

    result = cli.json("account", "delete", "--confirm", acct.email, "--password-stdin", input=PASSWORD + "\n")
    assert result == {"deleted": True, "finished": True}
    assert srv.request("GET", "/v1/account", acct.token).status_code == 401
