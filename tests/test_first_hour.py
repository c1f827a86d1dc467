"""What a newcomer and an agent hit in their first hour (issue: "the first hour"), through the
real binary and real runc: results that explain themselves, background runs that can be
stopped."""

from __future__ import annotations

import time

from conftest import signup_and_login
from test_trust_under_fire import new_server, project_of


def exec_(srv, token, sid, command, **extra):
    r = srv.request("POST", f"/v1/servers/{sid}/exec", token, timeout=120, json={"command": command, **extra})
    assert r.status_code == 200, r.text
    return r.json()


def test_an_exec_answer_says_how_the_command_ended(make_server):
    srv = make_server()
    acct = signup_and_login(srv)
    project = project_of(srv, acct.token, "ends")
    sid = new_server(srv, acct.token, project, "1", memory=64)

    plain = exec_(srv, acct.token, sid, "exit 3")
    assert (plain["exit_code"], plain["ended_by"]) == (3, "exit") and "hint" not in plain, plain
    # A server run as a command: the timeout kills it, and the answer says to deploy it.
    served = exec_(srv, acct.token, sid, "exec python3 -m http.server 8080", timeout_s=3)
    assert served["ended_by"] == "timeout" and served["timed_out"], served
    assert "port 8080" in served["hint"] and "deploy" in served["hint"], served
    # A command that times out without listening gets no such hint.
    quiet = exec_(srv, acct.token, sid, "sleep 30", timeout_s=1)
    assert quiet["ended_by"] == "timeout" and "hint" not in quiet, quiet
    killed = exec_(srv, acct.token, sid, "kill -9 $$")
    assert (killed["exit_code"], killed["ended_by"]) == (137, "signal"), killed
    # Touching 200 MiB in a 64 MiB server: the kernel's OOM killer ends it, and the answer says so.
    oom = exec_(srv, acct.token, sid, "python3 -c 'a = bytearray(200 * 1024 * 1024); print(len(a))'")
    assert (oom["exit_code"], oom["ended_by"]) == (137, "oom"), oom
    assert "memory" in oom["hint"], oom
    # The run remembers it.
    run = srv.request("GET", f"/v1/servers/{sid}/runs/{served['run_id']}", acct.token).json()
    assert run["ended_by"] == "timeout" and "port 8080" in run["hint"], run


def test_a_budget_kill_reads_exhausted_at_once_and_a_refused_exec_is_no_run(make_server):
    srv = make_server()
    acct = signup_and_login(srv)
    project = project_of(srv, acct.token, "broke")
    # 100 millicores and 64 MiB cost 1.68 µ$ a second: about 6 s of budget.
    sid = new_server(srv, acct.token, project, "0.00001", memory=64)
    started = time.monotonic()
    result = exec_(srv, acct.token, sid, "sleep 60", timeout_s=60)
    assert time.monotonic() - started < 30
    assert result["ended_by"] == "budget" and result["exit_code"] == 137, result
    assert "budget" in result["hint"], result
    server = srv.request("GET", f"/v1/servers/{sid}", acct.token).json()
    assert server["state"] == "exhausted", server
    runs_before = srv.request("GET", f"/v1/servers/{sid}/runs", acct.token).json()["items"]
    refused = srv.request("POST", f"/v1/servers/{sid}/exec", acct.token, json={"command": "true"})
    assert refused.status_code == 409 and refused.headers["content-type"].startswith("application/problem+json"), refused.text
    runs_after = srv.request("GET", f"/v1/servers/{sid}/runs", acct.token).json()["items"]
    assert [r["id"] for r in runs_after] == [r["id"] for r in runs_before]


def test_a_background_run_is_cancelled_for_good(make_server):
    srv = make_server()
    acct = signup_and_login(srv)
    sid = new_server(srv, acct.token, project_of(srv, acct.token, "bg"), "1", memory=64)
    r = srv.request("POST", f"/v1/servers/{sid}/exec", acct.token,
                    json={"command": "sleep 1000 & sleep 1000; echo never", "background": True})
    assert r.status_code == 202, r.text
    run_id = r.json()["id"]
    cancelled = srv.request("POST", f"/v1/servers/{sid}/runs/{run_id}/cancel", acct.token)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["state"] == "exited" and cancelled.json()["ended_by"] == "cancelled", cancelled.text
    # Everything it started went with it, and nothing restarts it.
    time.sleep(1.5)
    ps = exec_(srv, acct.token, sid, "ps -eo args")["stdout"]
    assert "sleep 1000" not in ps, ps
    # Cancelling again answers the ended run; an unknown run is 404; another account sees nothing.
    again = srv.request("POST", f"/v1/servers/{sid}/runs/{run_id}/cancel", acct.token)
    assert again.status_code == 200 and again.json()["ended_by"] == "cancelled"
    assert srv.request("POST", f"/v1/servers/{sid}/runs/run_nosuch/cancel", acct.token).status_code == 404
    other = signup_and_login(srv)
    assert srv.request("POST", f"/v1/servers/{sid}/runs/{run_id}/cancel", other.token).status_code == 404
    events = srv.request("GET", "/v1/activity?action=run.cancelled", acct.token).json()["items"]
    assert [e["target"]["id"] for e in events] == [run_id], events


def test_relative_paths_mean_the_same_directory_everywhere(make_server, tmp_path, cli):
    """exec starts in /root; the CLI and MCP put a relative path there too, and say the
    absolute path they wrote; the dashboard's file browser opens there."""
    import asyncio
    from test_mcp import stdio_session
    from test_trust_under_fire import create_key

    srv = make_server()
    acct = signup_and_login(srv)
    sid = new_server(srv, acct.token, project_of(srv, acct.token, "paths"), "1", memory=64)
    assert exec_(srv, acct.token, sid, "pwd")["stdout"] == "/root\n"
    key = create_key(srv, acct.token, ["servers:read", "servers:write", "servers:exec"])
    env = {"S4A_API_URL": srv.base_url, "S4A_API_KEY": key["token"], "S4A_CA_CERT": str(srv.ca)}
    local = tmp_path / "notes.txt"
    local.write_text("from the cli\n")
    put = cli.run("files", "put", sid, str(local), "notes.txt", env=env)
    assert put.returncode == 0 and "/root/notes.txt" in put.stdout, put.stdout + put.stderr
    assert exec_(srv, acct.token, sid, "cat notes.txt")["stdout"] == "from the cli\n"
    listed = cli.run("files", "ls", sid, ".", "--json", env=env)
    assert "notes.txt" in listed.stdout, listed.stdout + listed.stderr

    async def agent():
        async with stdio_session(srv, key["token"], tmp_path) as session:
            wrote = await session.call_tool("write_file", {"server_id": sid, "path": "agent.txt", "content": "from mcp\n"})
            assert not wrote.isError and "/root/agent.txt" in wrote.content[0].text, wrote
            read = await session.call_tool("read_file", {"server_id": sid, "path": "notes.txt"})
            assert "from the cli" in read.content[0].text, read

    asyncio.run(agent())
    assert exec_(srv, acct.token, sid, "cat agent.txt")["stdout"] == "from mcp\n"


def deploy(srv, token, sid, command, **extra):
    return srv.request("POST", f"/v1/servers/{sid}/deploy", token, timeout=120, json={"command": command, **extra})


def test_deploy_answers_once_the_app_answers_or_says_why_not(make_server):
    srv = make_server()
    acct = signup_and_login(srv)
    sid = new_server(srv, acct.token, project_of(srv, acct.token, "truth"), "1", memory=128)
    # It answers: the deploy returns when it does, so the app is reachable at once.
    ok = deploy(srv, acct.token, sid, "exec python3 -m http.server $PORT")
    assert ok.status_code == 201, ok.text
    reach = exec_(srv, acct.token, sid, "python3 -c \"import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/')\"")
    assert reach["exit_code"] == 0, reach
    # It exits: 502 with the code and what it printed last; the deployment stays.
    crash = deploy(srv, acct.token, sid, "echo starting; echo 'no such module: flask' >&2; exit 3", restart="never")
    assert crash.status_code == 502 and crash.headers["content-type"].startswith("application/problem+json"), crash.text
    problem = crash.json()
    assert problem["type"] == "urn:s4a:problem:app-not-answering", problem
    assert "exited with code 3" in problem["detail"] and "no such module: flask" in problem["detail"], problem
    # It listens elsewhere: said, with the port it does listen on (after the 30 s wait).
    elsewhere = deploy(srv, acct.token, sid, "exec python3 -m http.server 5000")
    assert elsewhere.status_code == 502, elsewhere.text
    assert "Nothing listens on port 8080; the app listens on 5000" in elsewhere.json()["detail"], elsewhere.text
    # The port is held by a background run: refused before anything changes, naming the run.
    holder = srv.request("POST", f"/v1/servers/{sid}/exec", acct.token,
                         json={"command": "exec python3 -m http.server 7000", "background": True}).json()
    for _ in range(50):
        if exec_(srv, acct.token, sid, "python3 -c \"import socket; socket.create_connection(('127.0.0.1', 7000))\"")["exit_code"] == 0:
            break
        time.sleep(0.1)
    before = srv.request("GET", f"/v1/servers/{sid}", acct.token).json()["deployment"]["id"]
    taken = deploy(srv, acct.token, sid, "exec python3 -m http.server $PORT", port=7000)
    assert taken.status_code == 409 and holder["id"] in taken.json()["detail"], taken.text
    assert srv.request("GET", f"/v1/servers/{sid}", acct.token).json()["deployment"]["id"] == before
    # wait: false answers at once, whatever the app does.
    started = time.monotonic()
    quick = deploy(srv, acct.token, sid, "sleep 1000", wait=False)
    assert quick.status_code == 201 and time.monotonic() - started < 10, quick.text
