"""The audit export: the account's activity in chain order as JSON Lines or CSV, streamed,
re-verifiable by anyone (every hash recomputed here exactly as ActivityChain does) and the
same events the API lists."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from datetime import datetime

import requests

from conftest import Server, signup_and_login

PROBLEM = "application/problem+json"
GENESIS = "0" * 64


# ------------------------------------------------------------------ the chain, recomputed

def quote(s: str) -> str:
    out = ['"']
    for ch in s:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ord(ch) < 0x20:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return "".join(out) + '"'


def millis(at: str) -> int:
    dt = datetime.fromisoformat(at.replace("Z", "+00:00"))
    return int(dt.timestamp()) * 1000 + dt.microsecond // 1000


def chain_hash(e: dict) -> str:
    metadata = ",".join(f"{quote(k)}:{quote(e['metadata'][k])}" for k in sorted(e["metadata"]))
    fields = [quote(e["prev_hash"]), quote(e["account_id"]), str(e["seq"]), quote(e["id"]), str(millis(e["at"])),
              quote(e["action"]), quote(e["actor"]["type"]), quote(e["actor"]["id"]), quote(e["target"]["type"]),
              quote(e["target"]["id"]), quote(e["project_id"] or ""), "{" + metadata + "}"]
    return hashlib.sha256(("[" + ",".join(fields) + "]").encode()).hexdigest()


def verify(events: list[dict], first_prev: str = GENESIS, contiguous: bool = True) -> None:
    prev = first_prev
    for i, e in enumerate(events):
        assert chain_hash(e) == e["hash"], f"event {e['seq']} does not hash to its hash"
        if contiguous:
            assert e["prev_hash"] == prev, f"event {e['seq']} does not link to the one before"
            if i:
                assert e["seq"] == events[i - 1]["seq"] + 1
        prev = e["hash"]


# ------------------------------------------------------------------ helpers

def export(srv: Server, token: str, **params) -> requests.Response:
    return srv.request("GET", "/v1/activity/export", token, params=params, stream=True)


def jsonl(r: requests.Response) -> list[dict]:
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/x-ndjson"), r.headers
    assert r.headers["Content-Disposition"].startswith("attachment;"), r.headers
    assert r.headers["Content-Disposition"].endswith('.jsonl"'), r.headers
    text = r.text
    assert text.endswith("\n")
    return events_only([json.loads(line) for line in text.splitlines()])


def events_only(lines: list[dict]) -> list[dict]:
    """The events of a whole-chain JSON Lines export: its last line may be the chain's signed
    checkpoint (test_audit_anchor.py checks it), once the control plane has written one."""
    if lines and lines[-1].get("type") == "checkpoint":
        lines = lines[:-1]
    assert all("type" not in line for line in lines), lines
    return lines


def from_csv(text: str) -> list[dict]:
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    events = []
    for row in rows:
        events.append({
            "account_id": row["account_id"], "seq": int(row["seq"]), "id": row["id"], "at": row["at"],
            "action": row["action"], "actor": {"type": row["actor_type"], "id": row["actor_id"]},
            "target": {"type": row["target_type"], "id": row["target_id"]}, "project_id": row["project_id"] or None,
            "metadata": json.loads(row["metadata"]), "prev_hash": row["prev_hash"], "hash": row["hash"],
        })
    return events


def api_activity(srv: Server, token: str) -> list[dict]:
    items, cursor = [], None
    while True:
        params = {"limit": 200, **({"cursor": cursor} if cursor else {})}
        r = srv.request("GET", "/v1/activity", token, params=params)
        assert r.status_code == 200, r.text
        items += r.json()["items"]
        cursor = r.json().get("next_cursor")
        if not cursor:
            return items


def make_activity(srv: Server, token: str, renames: int) -> str:
    """Events whose metadata needs escaping in JSON and quoting in CSV; `renames` more."""
    r = srv.request("POST", "/v1/projects", token, json={"name": 'a "quoted", name\\ with ü'})
    assert r.status_code == 201, r.text
    project = r.json()["id"]
    with requests.Session() as s:
        s.headers["Authorization"] = f"Bearer {token}"
        for i in range(renames):
            r = s.patch(srv.url(f"/v1/projects/{project}"), json={"name": f"rename {i},\r\nline"}, timeout=15,
                        verify=str(srv.ca))
            assert r.status_code == 200, r.text
    r = srv.request("POST", "/v1/api-keys", token, json={"name": "agent", "scopes": ["activity:read"]})
    assert r.status_code == 201, r.text
    return project


# ------------------------------------------------------------------ tests

def test_export_verifies_as_a_chain_and_matches_the_api(server):
    acct = signup_and_login(server)
    make_activity(server, acct.token, renames=520)  # more than one page of the export (500)

    events = jsonl(export(server, acct.token))
    verify(events)
    assert events[0]["seq"] == 1 and events[0]["prev_hash"] == GENESIS
    assert events[0]["action"] == "account.created"

    listed = api_activity(server, acct.token)
    assert len(listed) == len(events) > 520
    by_id = {e["id"]: e for e in listed}
    for e in events:
        api = by_id[e["id"]]
        assert millis(api["at"]) == millis(e["at"])
        for field in ("action", "actor", "target", "hash"):
            assert api[field] == e[field], (field, api, e)
        assert api.get("project_id") == e["project_id"]
        assert api.get("metadata", {}) == e["metadata"]

    # The same rows as CSV (RFC 4180: the CR LF inside a name stays inside its quoted field).
    r = export(server, acct.token, format="csv")
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("text/csv"), r.headers
    assert r.headers["Content-Disposition"].endswith('.csv"'), r.headers
    body = r.content.decode()
    assert body.startswith("account_id,seq,id,at,action,")
    rows = from_csv(body)
    assert rows == events
    verify(rows)


def test_since_and_until_narrow_the_export_and_links_still_check(server):
    acct = signup_and_login(server)
    make_activity(server, acct.token, renames=6)
    events = jsonl(export(server, acct.token))
    middle = events[3:6]
    part = jsonl(export(server, acct.token, since=middle[0]["at"], until=middle[-1]["at"]))
    # Events in the same millisecond come along; the stretch is contiguous and links to what came before.
    assert [e["id"] for e in middle] == [e["id"] for e in part if e["id"] in {m["id"] for m in middle}]
    assert all(middle[0]["at"] <= e["at"] <= middle[-1]["at"] for e in part)
    before = {e["seq"]: e for e in events}
    verify(part, first_prev=before[part[0]["seq"] - 1]["hash"])


def test_a_restricted_key_exports_only_its_projects(server):
    acct = signup_and_login(server)
    project = make_activity(server, acct.token, renames=2)
    r = server.request("POST", "/v1/projects", acct.token, json={"name": "other"})
    assert r.status_code == 201, r.text
    r = server.request("POST", "/v1/api-keys", acct.token,
                       json={"name": "narrow", "scopes": ["activity:read"], "project_ids": [project]})
    assert r.status_code == 201, r.text
    events = jsonl(export(server, r.json()["token"]))
    assert events and {e["project_id"] for e in events} == {project}
    verify(events, contiguous=False)  # other events sit between them, each hash still checks


def test_bad_format_or_time_is_a_problem(server):
    acct = signup_and_login(server)
    for params in ({"format": "xml"}, {"since": "yesterday"}, {"until": "2026-13-01T00:00:00Z"},
                   {"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"}):
        r = export(server, acct.token, **params)
        assert r.status_code == 400, (params, r.status_code, r.text)
        assert r.headers["Content-Type"].startswith(PROBLEM), (params, r.headers)


def test_cli_exports_to_a_file(server, cli):
    acct = signup_and_login(server)
    make_activity(server, acct.token, renames=3)
    cli.login(server, acct)
    out = cli.home / "activity.csv"
    cli.ok("activity", "export", "--format", "csv", "-o", str(out))
    rows = from_csv(out.read_text())
    verify(rows)
    # `s4a login` itself made a session: the API's view now has every row the file has.
    assert {e["id"] for e in rows} <= {e["id"] for e in api_activity(server, acct.token)}
    lines = events_only([json.loads(line) for line in cli.ok("activity", "export").stdout.splitlines()])
    assert [e["id"] for e in lines[:len(rows)]] == [e["id"] for e in rows]
    verify(lines)
    p = cli.run("activity", "export", "--format", "xml")
    assert p.returncode == 2, p.stdout + p.stderr
