"""`s4a mcp` driven by the Python `mcp` client (stdio_client + ClientSession) against a real
`s4a serve`: an agent with nothing but an API key gets from zero to a deployed app, a person
publishes it, and the app answers at its URL. Tools follow the key's scopes; bad arguments and
API refusals come back as tool errors; a secret given to set_secret never comes back."""

from __future__ import annotations

import asyncio
import json
import ssl
import time
from contextlib import asynccontextmanager
from datetime import timedelta
from decimal import Decimal

import httpx
import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamablehttp_client

from conftest import Server, clean_env, s4a_bin, signup_and_login, throwaway_certificate
from test_ingress import AppClient

CORE_TOOLS = {
    "list_projects", "create_project", "create_server", "list_servers", "get_server", "exec", "write_file",
    "read_file", "list_files", "deploy", "stop_run", "attach", "get_logs", "get_usage", "set_secret", "stop_server",
    "start_server", "delete_server", "get_activity", "create_log_drain", "list_log_drains", "delete_log_drain",
}

APP = r'''
import os, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOKEN = os.environ.get("APP_TOKEN", "")
print("starting; token set:", bool(TOKEN), "value:", TOKEN, flush=True)

class App(BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"hello from an mcp agent"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), App).serve_forever()
'''

ALL_AGENT_SCOPES = ["projects:read", "projects:write", "servers:read", "servers:write", "servers:exec",
                    "secrets:write", "activity:read"]


def create_key(srv: Server, session_token: str, scopes: list[str], **extra) -> str:
    r = srv.request("POST", "/v1/api-keys", session_token, json={"name": "mcp-agent", "scopes": scopes, **extra})
    assert r.status_code == 201, r.text
    return r.json()["token"]


def mcp_params(srv: Server, key: str, tmp_path) -> StdioServerParameters:
    home = tmp_path / "mcp-home"
    home.mkdir(exist_ok=True)
    env = clean_env(HOME=str(home), S4A_API_URL=srv.base_url, S4A_API_KEY=key, S4A_CA_CERT=str(srv.ca))
    return StdioServerParameters(command=str(s4a_bin()), args=["mcp"], env=env)


@asynccontextmanager
async def stdio_session(srv: Server, key: str, tmp_path):
    """`s4a mcp` as a subprocess, its key in S4A_API_KEY."""
    async with stdio_client(mcp_params(srv, key, tmp_path)) as (read, write):
        async with ClientSession(read, write, read_timeout_seconds=timedelta(seconds=180)) as session:
            session.init = await session.initialize()
            yield session


@asynccontextmanager
async def http_session(srv: Server, key: str, tmp_path=None):
    """`s4a serve`'s own /mcp over Streamable HTTP, the key as the bearer token."""
    tls = ssl.create_default_context(cafile=str(srv.ca))

    def client(headers=None, timeout=None, auth=None):
        return httpx.AsyncClient(headers=headers, timeout=timeout, auth=auth, verify=tls)

    async with streamablehttp_client(srv.url("/mcp"), headers={"Authorization": f"Bearer {key}"}, timeout=180,
                                     httpx_client_factory=client) as (read, write, _):
        async with ClientSession(read, write, read_timeout_seconds=timedelta(seconds=180)) as session:
            session.init = await session.initialize()
            yield session


SESSIONS = {"stdio": stdio_session, "http": http_session}


def run(coroutine):
    return asyncio.run(asyncio.wait_for(coroutine, timeout=300))


class Agent:
    """A ClientSession with helpers; every text it was given is kept for the secret check."""

    def __init__(self, session: ClientSession):
        self.session = session
        self.seen: list[str] = []

    async def call(self, name: str, arguments: dict | None = None):
        result = await self.session.call_tool(name, arguments or {})
        text = "\n".join(c.text for c in result.content if getattr(c, "type", "") == "text")
        self.seen.append(text)
        return bool(result.isError), text

    async def ok(self, name: str, arguments: dict | None = None) -> str:
        is_error, text = await self.call(name, arguments)
        assert not is_error, f"{name} failed: {text}"
        return text

    async def json(self, name: str, arguments: dict | None = None):
        text = await self.ok(name, arguments)
        start = min(i for i in (text.find("{"), text.find("[")) if i >= 0)
        return json.loads(text[start:])

    async def error(self, name: str, arguments: dict | None = None) -> str:
        is_error, text = await self.call(name, arguments)
        assert is_error, f"{name} should have failed: {text}"
        return text


async def eventually(check, timeout=60.0):
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.5)


@pytest.mark.parametrize("transport", ["stdio", "http"])
def test_an_agent_deploys_an_app_through_mcp(make_server, tmp_path, transport):
    srv = make_server()
    person = signup_and_login(srv)
    key = create_key(srv, person.token, ALL_AGENT_SCOPES, max_server_budget_usd="2.00")
    secret = "s3cr3t-" + "mcp-value-9f2c41"
    slug = "mcp-shop"

    async def scenario():
        async with SESSIONS[transport](srv, key, tmp_path) as session:
            assert session.init.serverInfo.name == "server4agent"
            agent = Agent(session)

            tools = {t.name: t for t in (await session.list_tools()).tools}
            # No publishing or budget raising for this key: it has neither scope.
            assert set(tools) == CORE_TOOLS, sorted(tools)
            for tool in tools.values():
                assert tool.description and len(tool.description) > 30, tool.name
                assert tool.inputSchema["type"] == "object", tool.name
                assert tool.inputSchema.get("additionalProperties") is False, tool.name
            assert {"command", "cwd", "timeout"} <= set(tools["exec"].inputSchema["properties"])

            project = await agent.json("create_project", {"name": "MCP shop", "slug": slug})
            assert project["visibility"] == "private" and project["slug"] == slug
            # A log drain: made with its secret shown once, listed without it, deleted.
            made = await agent.json("create_log_drain", {"project": slug, "url": "https://drain.invalid/in", "kinds": "logs"})
            assert made["drain"]["kinds"] == ["logs"] and made["secret"].startswith("s4a_whsec_"), made
            listed = await agent.json("list_log_drains", {"project": slug})
            assert [d["id"] for d in listed] == [made["drain"]["id"]] and made["secret"] not in json.dumps(listed)
            refused = await agent.error("create_log_drain", {"project": slug, "url": "http://plain.example/in"})
            assert "https" in refused, refused
            assert "Deleted" in await agent.ok("delete_log_drain", {"project": slug, "drain_id": made["drain"]["id"]})
            assert "No drains" in await agent.ok("list_log_drains", {"project": slug})
            server = await agent.json("create_server", {"project": slug, "name": "web", "budget_usd": "1.00",
                                                        "memory_mb": 256, "disk_mb": 256})
            sid = server["id"]
            assert server["budget_usd"] in ("1.00", "1") and server["project_id"] == project["id"]
            assert sid in {s["id"] for s in await agent.json("list_servers", {"project": project["id"]})}

            # A server may be named as project/name wherever its id is taken.
            assert (await agent.json("get_server", {"server_id": f"{slug}/web"}))["id"] == sid
            assert "No server named 'nope'" in await agent.error("get_server", {"server_id": f"{slug}/nope"})
            assert "Wrote" in await agent.ok("write_file", {"server_id": sid, "path": "/srv/app.py", "content": APP})
            assert await agent.ok("read_file", {"server_id": sid, "path": "/srv/app.py"}) == APP
            listing = await agent.json("list_files", {"server_id": sid, "dir": "/srv"})
            assert "app.py" in [e["name"] for e in listing["items"]]

            out = await agent.ok("exec", {"server_id": sid, "command": "pwd; echo out; echo err >&2; exit 3",
                                          "cwd": "/srv", "timeout": 30})
            assert "exit_code: 3" in out and "/srv\nout" in out and "err" in out, out

            text = await agent.ok("set_secret", {"name": "APP_TOKEN", "value": secret, "server_id": sid})
            assert "APP_TOKEN" in text and secret not in text

            deployed = await agent.json("deploy", {"server_id": sid, "command": "exec python3 /srv/app.py",
                                                   "port": 8080})
            assert deployed["deployment"]["port"] == 8080
            attached = await agent.json("attach", {"project": slug, "server_id": sid})
            assert attached["attached_server_id"] == sid

            # The agent cannot publish; a person does, through the REST API.
            r = srv.request("PATCH", f"/v1/projects/{project['id']}", person.token, json={"visibility": "public"})
            assert r.status_code == 200, r.text

            async def running():
                s = await agent.json("get_server", {"server_id": sid})
                return s.get("deployment", {}).get("state") == "healthy"
            await eventually(running)

            host = f"{slug}.{srv.apps_domain}:{srv.port}"

            async def answered():
                client = AppClient(srv, f"{slug}.{srv.apps_domain}")
                try:
                    return client.request("GET", "/from-mcp", host)
                finally:
                    client.close()
            status, _, body = await eventually(lambda: _ok_answer(answered))
            assert (status, body) == (200, b"hello from an mcp agent")

            async def access_line():
                logs = await agent.ok("get_logs", {"server_id": sid, "q": "from-mcp"})
                return "GET /from-mcp 200" in logs and logs
            await eventually(access_line, timeout=30)
            logs = await agent.ok("get_logs", {"server_id": sid})
            assert "token set: True" in logs, logs

            usage = await agent.json("get_usage", {"server_id": sid})
            spend = usage["spend"]
            assert Decimal(spend["budget_usd"]) == Decimal("1")
            assert Decimal(spend["charged_usd"]) + Decimal(spend["reserved_usd"]) <= Decimal(spend["budget_usd"])
            assert Decimal(spend["remaining_usd"]) >= 0
            account_usage = await agent.json("get_usage")
            assert sid in [s["server_id"] for s in account_usage["servers"]]

            # The secret reached the app's environment, yet nothing shows it.
            echoed = await agent.ok("exec", {"server_id": sid, "command": "echo \"[$APP_TOKEN]\"; printenv APP_TOKEN"})
            assert "exit_code: 0" in echoed and "[***]" in echoed, echoed  # the API masks captured output
            if transport == "stdio":
                # Bytes the API does not mask (a file the agent itself wrote the value into):
                # `s4a mcp` masks every value set through it in this session.
                await agent.ok("exec", {"server_id": sid, "command": "printenv APP_TOKEN > /root/leak.txt"})
                leaked = await agent.ok("read_file", {"server_id": sid, "path": "/root/leak.txt"})
                assert leaked.strip() == "[secret]", leaked
            resources = (await session.list_resources()).resources
            uri = f"s4a://servers/{sid}/logs"
            assert uri in [str(r.uri) for r in resources]
            contents = (await session.read_resource(uri)).contents
            resource_text = "\n".join(getattr(c, "text", "") for c in contents)
            assert "token set: True" in resource_text
            assert secret not in resource_text

            activity = await agent.json("get_activity", {"project": slug})
            actions = {e["action"] for e in activity}
            assert {"server.created", "server.deployed", "server.attached"} <= actions, actions

            # Mistakes and refusals are tool errors, not crashes; the session goes on.
            assert "Missing required argument 'command'" in await agent.error("exec", {"server_id": sid})
            assert "must be integer" in await agent.error("exec", {"server_id": sid, "command": "true",
                                                                   "timeout": "soon"})
            assert "Unknown argument 'colour'" in await agent.error("get_server", {"server_id": sid, "colour": 1})
            assert "Unknown tool" in await agent.error("format_disk", {})
            missing = await agent.error("get_server", {"server_id": "srv_doesnotexist"})
            assert "404" in missing, missing
            over = await agent.error("create_server", {"project": slug, "name": "big", "budget_usd": "50"})
            assert "The API refused" in over, over  # over the key's 2.00 ceiling

            assert "Deleted" in await agent.ok("delete_server", {"server_id": sid})
            await agent.error("get_server", {"server_id": sid})

            for text in agent.seen + [resource_text]:
                assert secret not in text
            return sid

    sid = run(scenario())
    r = srv.request("GET", f"/v1/servers/{sid}", person.token)
    assert r.status_code == 404 or r.json()["state"] == "deleted", r.text


async def _ok_answer(ask):
    try:
        answer = await ask()
    except OSError:
        return None
    return answer if answer[0] == 200 else None


@pytest.mark.parametrize("transport", ["stdio", "http"])
def test_tools_follow_the_keys_scopes(make_server, tmp_path, transport):
    srv = make_server()
    person = signup_and_login(srv)
    reader = create_key(srv, person.token, ["projects:read", "servers:read", "projects:write"])
    publisher = create_key(srv, person.token, ["projects:read", "projects:write", "projects:publish", "budget:write",
                                               "servers:read"])
    project = srv.request("POST", "/v1/projects", person.token, json={"name": "scoped", "slug": "scoped-one"}).json()

    async def as_reader():
        async with SESSIONS[transport](srv, reader, tmp_path) as session:
            names = {t.name for t in (await session.list_tools()).tools}
            assert "exec" not in names and "deploy" not in names and "set_secret" not in names, names
            assert "set_visibility" not in names and "set_budget" not in names, names
            assert {"list_projects", "get_server", "get_logs", "create_project"} <= names, names
            agent = Agent(session)
            refused = await agent.error("exec", {"server_id": "srv_x", "command": "id"})
            assert "servers:exec" in refused, refused
            refused = await agent.error("set_visibility", {"project": "scoped-one", "visibility": "public"})
            assert "projects:publish" in refused, refused
            listed = await agent.json("list_projects")
            assert [p["slug"] for p in listed] == ["scoped-one"]

    async def as_publisher():
        async with SESSIONS[transport](srv, publisher, tmp_path) as session:
            names = {t.name for t in (await session.list_tools()).tools}
            assert {"set_visibility", "set_budget"} <= names, names
            assert "exec" not in names
            agent = Agent(session)
            published = await agent.json("set_visibility", {"project": "scoped-one", "visibility": "public"})
            assert published["visibility"] == "public"
            bad = await agent.error("set_visibility", {"project": "scoped-one", "visibility": "everyone"})
            assert "must be one of" in bad, bad

    run(as_reader())
    assert srv.request("GET", f"/v1/projects/{project['id']}", person.token).json()["visibility"] == "private"
    run(as_publisher())
    assert srv.request("GET", f"/v1/projects/{project['id']}", person.token).json()["visibility"] == "public"


def test_a_revoked_key_gets_tool_errors_not_a_crash(make_server, tmp_path):
    srv = make_server()
    person = signup_and_login(srv)
    key = create_key(srv, person.token, ["projects:read"])
    key_id = srv.request("GET", "/v1/api-keys", person.token).json()["items"][0]["id"]

    async def scenario():
        async with stdio_session(srv, key, tmp_path) as session:
            agent = Agent(session)
            assert await agent.json("list_projects") == []
            assert srv.request("DELETE", f"/v1/api-keys/{key_id}", person.token).status_code == 204
            text = await agent.error("list_projects")
            assert "401" in text, text
            # The session is still alive after the refusal.
            assert "Unknown tool" in await agent.error("nope")

    run(scenario())


def test_http_mcp_needs_a_valid_bearer_key(make_server):
    srv = make_server()
    message = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    r = srv.request("POST", "/mcp", json=message, headers=headers)
    assert r.status_code == 401, r.text
    r = srv.request("POST", "/mcp", "s4a_" + "x" * 43, json=message, headers=headers)
    assert r.status_code == 401, r.text
    person = signup_and_login(srv)
    key = create_key(srv, person.token, ["servers:read"])
    r = srv.request("POST", "/mcp", key, json=message, headers=headers)
    assert r.status_code == 200, r.text
    names = {t["name"] for t in r.json()["result"]["tools"]}
    assert names == {"list_servers", "get_server", "read_file", "list_files", "get_logs", "get_usage"}, names
    # A browser page elsewhere cannot drive it, even with a key.
    r = srv.request("POST", "/mcp", key, json=message, headers={**headers, "Origin": "https://evil.example"})
    assert r.status_code == 403, r.text


def test_http_mcp_works_under_an_operator_certificate(make_server, tmp_path):
    """/mcp's tool calls go to the API in process, so they need no trust in the listener's
    certificate: under a certificate from a CA s4a has never seen they work, and each is
    still checked against the caller's key."""
    ca, cert, key_file = throwaway_certificate(tmp_path / "operator-tls", "operator test CA", "localhost")
    srv = make_server(extra_args=["--tls-cert", str(cert), "--tls-key", str(key_file)], ca_file=ca)
    assert not (srv.data_dir / "tls" / "ca.pem").exists(), "the local CA should not be in use"
    person = signup_and_login(srv)
    key = create_key(srv, person.token, ["projects:read", "projects:write"])
    other = signup_and_login(srv, email="someone-else@example.com")
    srv.request("POST", "/v1/projects", other.token, json={"name": "theirs", "slug": "not-yours"})

    async def scenario():
        async with http_session(srv, key) as session:
            agent = Agent(session)
            created = await agent.json("create_project", {"name": "Under operator TLS", "slug": "operator-tls"})
            assert created["slug"] == "operator-tls", created
            listed = await agent.json("list_projects")
            assert [p["slug"] for p in listed] == ["operator-tls"], listed
            # The key's scopes still decide, call by call.
            refused = await agent.error("exec", {"server_id": "srv_x", "command": "id"})
            assert "servers:exec" in refused, refused

    run(scenario())
    activity = srv.request("GET", "/v1/activity", person.token).json()["items"]
    assert any(e["action"] == "project.created" for e in activity), activity
