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
    assert ok.json()["deployment"]["state"] == "healthy" and ok.json()["deployment"]["last_probe"]["healthy"], ok.text
    reach = exec_(srv, acct.token, sid, "python3 -c \"import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/')\"")
    assert reach["exit_code"] == 0, reach
    # It exits: 502 with the code and what it printed last; the deployment stays.
    crash = deploy(srv, acct.token, sid, "echo starting; echo 'no such module: flask' >&2; exit 3", restart="never")
    assert crash.status_code == 502 and crash.headers["content-type"].startswith("application/problem+json"), crash.text
    problem = crash.json()
    assert problem["type"] == "urn:s4a:problem:app-not-answering", problem
    assert "exited with code 3" in problem["detail"] and "no such module: flask" in problem["detail"], problem
    app = srv.request("GET", f"/v1/servers/{sid}", acct.token).json()["deployment"]
    assert (app["state"], app["process_state"], app["last_exit_code"]) == ("stopped", "exited", 3), app
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


def test_a_crash_loop_is_one_incident_and_reads_crash_looping(make_server):
    """An app that exits at once, restarted by its policy again and again: its deployment reads
    crash-looping with every restart counted, and the activity log holds one app_crashed for the
    whole loop (one incident, updated), not a crashed/recovered pair per restart."""
    from conftest import wait_until
    srv = make_server(extra_args=["--probe-interval", "1"])
    acct = signup_and_login(srv)
    project = project_of(srv, acct.token, "loop")
    sid = new_server(srv, acct.token, project, "1", memory=64)
    crash = deploy(srv, acct.token, sid, "echo boom; exit 4")
    assert crash.status_code == 502 and "exited with code 4" in crash.json()["detail"], crash.text

    def looping():
        app = srv.request("GET", f"/v1/servers/{sid}", acct.token).json()["deployment"]
        return app["restarts"] >= 3 and app["state"] == "crash-looping" and app
    app = wait_until(looping, timeout=60, what="three restarts")
    assert app["last_exit_code"] == 4, app
    incidents = wait_until(lambda: (i := srv.request("GET", f"/v1/projects/{project}/uptime", acct.token).json()["incidents"])
                           and i[0]["crashes"] >= 3 and i, timeout=30, what="the incident to count three crashes")
    assert len(incidents) == 1 and "ended_at" not in incidents[0] and incidents[0]["last_exit_code"] == 4, incidents
    actions = [e["action"] for e in srv.request("GET", "/v1/activity?limit=200", acct.token).json()["items"]]
    assert actions.count("server.app_crashed") == 1 and "server.app_recovered" not in actions, actions


def test_a_key_bounds_what_its_servers_cost_together_and_how_many_there_are(make_server):
    """max_total_budget_usd covers the caps of the live servers a key (and the keys it made)
    created; max_servers counts them; a key it makes cannot loosen either, and its servers count
    against its maker; a bounded key cannot raise a cap outside its own servers."""
    from test_trust_under_fire import create_key
    srv = make_server()
    acct = signup_and_login(srv)
    project = project_of(srv, acct.token, "bounded")
    scopes = ["projects:read", "servers:read", "servers:write", "budget:write", "keys:write"]
    key = create_key(srv, acct.token, scopes, max_total_budget_usd="4.00", max_servers=2)
    assert (key["max_total_budget_usd"], key["max_servers"]) == ("4.00", 2), key
    agent = key["token"]

    def create(token, budget, name="s"):
        return srv.request("POST", "/v1/servers", token, json={
            "project_id": project, "name": name, "budget_usd": budget, "cpu_millis": 100, "memory_mb": 64, "disk_mb": 64})

    first = create(agent, "2.00")
    assert first.status_code == 201, first.text
    over = create(agent, "2.50")
    assert over.status_code == 422 and "total of 4.00" in over.text and "2.00 USD left" in over.text, over.text
    second = create(agent, "1.50")
    assert second.status_code == 201, second.text
    third = create(agent, "0.10")
    assert third.status_code == 403 and "2 servers" in third.text, third.text
    raised = srv.request("PATCH", f"/v1/servers/{second.json()['id']}", agent, json={"budget_usd": "2.50"})
    assert raised.status_code == 422 and "total of 4.00" in raised.text, raised.text
    # A key it makes: never looser, and what it creates counts against its maker.
    looser = srv.request("POST", "/v1/api-keys", agent, json={"name": "child", "scopes": ["servers:write"],
                                                                "max_total_budget_usd": "10.00"})
    assert looser.status_code == 403, looser.text
    child = create_key(srv, agent, ["projects:read", "servers:read", "servers:write"])
    assert (child["max_total_budget_usd"], child["max_servers"]) == ("4.00", 2), child
    refused = create(child["token"], "0.10")
    assert refused.status_code == 403 and "2 servers" in refused.text, refused.text
    # Deleting one frees its place and its cap (not what it spent).
    assert srv.request("DELETE", f"/v1/servers/{second.json()['id']}", agent).status_code == 204
    assert create(child["token"], "0.10").status_code == 201
    # A person's server is outside the key's total: it may not raise that cap.
    mine = create(acct.token, "1.00", name="mine")
    assert mine.status_code == 201, mine.text
    other = srv.request("PATCH", f"/v1/servers/{mine.json()['id']}", agent, json={"budget_usd": "1.50"})
    assert other.status_code == 403 and "not one of them" in other.text, other.text
    assert srv.request("GET", f"/v1/servers/{mine.json()['id']}", acct.token).json()["budget_usd"] == "1.00"
    created = [e for e in srv.request("GET", "/v1/activity?limit=100", acct.token).json()["items"]
               if e["action"] == "api_key.created" and e["target"]["id"] == key["id"]]
    assert created and created[0]["metadata"]["max_total_budget_usd"] == "4.00", created


def test_an_account_limit_below_what_is_committed_asks_first_and_says_why_it_stopped(make_server):
    from conftest import wait_until
    srv = make_server()
    acct = signup_and_login(srv)
    sid = new_server(srv, acct.token, project_of(srv, acct.token, "limited"), "1")
    # Below the 1.00 committed: refused with what it would do, and nothing changes.
    asked = srv.request("PATCH", "/v1/account", acct.token, json={"spending_limit_usd": "0.50"})
    assert asked.status_code == 409 and asked.json()["type"] == "urn:s4a:problem:confirmation-required", asked.text
    assert "1 running server" in asked.json()["detail"] and "confirm" in asked.json()["detail"], asked.text
    assert "spending_limit_usd" not in srv.request("GET", "/v1/account", acct.token).json()
    # Confirmed, and low enough that nothing is left: the server stops and says why.
    set_ = srv.request("PATCH", "/v1/account", acct.token, json={"spending_limit_usd": "0.000001", "confirm": True})
    assert set_.status_code == 200 and set_.json()["spending_limit_usd"] == "0.000001", set_.text
    server = wait_until(lambda: (s := srv.request("GET", f"/v1/servers/{sid}", acct.token).json())["state"] != "running" and s,
                        timeout=30, what="the limit to stop the server")
    assert server["state"] == "stopped", server
    assert server["last_error"] == "stopped: the account's spending limit was reached", server
    stops = [e for e in srv.request("GET", "/v1/activity?limit=100", acct.token).json()["items"]
             if e["action"] == "server.stopped" and e["target"]["id"] == sid]
    assert stops and stops[0]["metadata"]["reason"] == server["last_error"], stops
    # A person's own stop says so too.
    srv.request("DELETE", "/v1/account/spending-limit", acct.token)
    assert srv.request("POST", f"/v1/servers/{sid}/start", acct.token).json()["state"] == "running"
    srv.request("POST", f"/v1/servers/{sid}/stop", acct.token)
    stops = [e for e in srv.request("GET", "/v1/activity?limit=100", acct.token).json()["items"]
             if e["action"] == "server.stopped" and e["target"]["id"] == sid]
    assert stops[0]["metadata"]["reason"] == "requested", stops


def test_the_cli_names_servers_as_people_do_and_says_what_went_wrong(make_server, cli):
    """project/name wherever a server id is taken (CLI and MCP), a key restricted by project
    slug, files put as cp would, local file problems in words, and a command's own usage."""
    srv = make_server()
    acct = signup_and_login(srv)
    cli.login(srv, acct)
    cli.ok("project", "create", "Shop", "--slug", "shop")
    sid = cli.json("server", "create", "--project", "shop", "--name", "web", "--budget-usd", "1")["id"]
    assert cli.json("server", "show", "shop/web")["id"] == sid
    assert cli.run("exec", "shop/web", "--", "echo", "hi").stdout == "hi\n"
    listed = cli.ok("server", "list").stdout
    assert "PROJECT" in listed.splitlines()[0] and " shop " in listed, listed
    missing = cli.run("server", "show", "shop/nope")
    assert missing.returncode == 1 and "No server named 'nope' in project shop" in missing.stderr, missing.stderr
    key = cli.json("key", "create", "--name", "one-project", "--scope", "servers:read", "--project", "shop")["key"]
    assert key["project_ids"] and key["project_ids"][0].startswith("prj_"), key

    # files put as cp -r does: a file into an existing directory keeps its name; a directory is copied whole.
    site = cli.home / "site"
    (site / "css").mkdir(parents=True)
    (site / "index.html").write_text("<h1>hi</h1>")
    (site / "css" / "a.css").write_text("body{}")
    cli.ok("exec", "shop/web", "--", "mkdir", "-p", "/srv")
    assert "/srv/index.html" in cli.ok("files", "put", "shop/web", str(site / "index.html"), "/srv").stdout
    cli.ok("files", "put", "shop/web", str(site), "/srv")
    tree = cli.run("exec", "shop/web", "--", "sh", "-c", "cd /srv && find . -type f | sort").stdout
    assert tree.split() == ["./index.html", "./site/css/a.css", "./site/index.html"], tree
    cli.ok("files", "push", "shop/web", str(site), "pushed")
    assert cli.run("exec", "shop/web", "--", "cat", "/root/pushed/css/a.css").stdout == "body{}"

    # Local file problems: what, and what to do; never Foundation's error dump.
    nofile = cli.run("files", "put", "shop/web", "no-such.txt", "x.txt")
    assert nofile.returncode == 1 and "No such file: no-such.txt" in nofile.stderr, nofile.stderr
    nodir = cli.run("files", "get", "shop/web", "/srv/index.html", str(cli.home / "absent" / "x.html"))
    assert nodir.returncode == 1 and "does not exist" in nodir.stderr and "mkdir -p" in nodir.stderr, nodir.stderr
    for failed in (nofile, nodir):
        assert "Error Domain" not in failed.stderr and "NSCocoaErrorDomain" not in failed.stderr, failed.stderr
    # A mistake found while running prints that command's usage, not the top level's.
    usage = cli.run("deploy", "shop/web")
    assert usage.returncode == 2 and "Usage: s4a deploy" in usage.stderr, usage.stderr
