"""Golden tests of the CLI's contract with scripts: `--json` answers parse and carry the same
keys every time (the shapes below are the golden files, kept inline), and the exit codes are
0 ok, 1 failed (the API's problem on stderr), 2 usage, the command's own for `s4a exec`."""

from __future__ import annotations

import io
import json
import tarfile

from conftest import signup_and_login, unique_email

GOLDEN = {
    "whoami": {"type", "scopes"},
    "health": {"status"},
    "account show": {"id", "email", "created_at"},
    "project create": {"id", "name", "slug", "visibility", "url", "created_at"},
    "server create": {"id", "project_id", "name", "template", "cpu_millis", "memory_mb", "disk_mb", "budget_usd",
                      "network", "state", "created_at", "updated_at"},
    "run": {"id", "server_id", "kind", "command", "state", "exit_code", "stdout", "stderr", "truncated", "duration_ms",
            "cpu_ms", "started_at", "finished_at", "ended_by"},
    "runs item": {"id", "server_id", "kind", "command", "state", "exit_code", "truncated", "duration_ms", "cpu_ms",
                  "started_at", "finished_at", "ended_by"},
    "usage": {"server_id", "state", "spend", "step_seconds", "samples"},
    "usage account": {"charged_usd", "reserved_usd", "rate_usd_per_hour", "servers"},
    "files push": {"unpacked", "bytes"},
    "files rm": {"removed"},
}


def test_json_shapes_and_exit_codes(make_server, cli_factory, tmp_path):
    srv = make_server()
    email = unique_email("golden")
    cli = cli_factory()
    base = ["--api-url", srv.base_url, "--ca-cert", str(srv.ca)]
    signed = cli.json("signup", "--email", email, "--password-stdin", *base, input="correct horse battery staple\n")
    assert signed["email"] == email
    cli.ok("login", "--email", email, "--password-stdin", *base, input="correct horse battery staple\n")

    assert set(cli.json("whoami")) == GOLDEN["whoami"] and cli.json("whoami")["type"] == "session"
    assert set(cli.json("health")) == GOLDEN["health"]
    assert set(cli.json("account", "show")) == GOLDEN["account show"]
    project = cli.json("project", "create", "Golden")
    assert set(project) == GOLDEN["project create"]
    server = cli.json("server", "create", "--project", project["slug"], "--name", "g", "--budget-usd", "1",
                      "--memory-mb", "128", "--disk-mb", "64")
    assert set(server) == GOLDEN["server create"]
    sid = server["id"]
    try:
        # exec: the command's own code; a usage mistake 2; an API refusal 1 with its problem.
        assert cli.run("exec", sid, "--", "sh", "-c", "exit 7").returncode == 7
        assert cli.run("exec", sid).returncode == 2
        missing = cli.run("server", "show", "srv_doesnotexist0000000")
        assert missing.returncode == 1 and "404" in missing.stderr, missing
        assert cli.run("server", "create").returncode == 2
        assert cli.run("completion", "tcsh").returncode == 2

        runs = cli.json("runs", sid)
        assert runs and set(runs[0]) == GOLDEN["runs item"], runs
        run = cli.json("run", sid, runs[0]["id"])
        assert set(run) == GOLDEN["run"] and run["exit_code"] == 7
        assert cli.run("run", sid, "run_nope000000000000000").returncode == 1

        # Files as tar both ways; rm.
        archive = io.BytesIO()
        with tarfile.open(fileobj=archive, mode="w") as tar:
            data = b"golden\n"
            info = tarfile.TarInfo("hello.txt")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        (tmp_path / "in.tar").write_bytes(archive.getvalue())
        assert set(cli.json("files", "push", sid, str(tmp_path / "in.tar"), "/srv/g")) == GOLDEN["files push"]
        cli.ok("files", "pull", sid, "/srv/g", str(tmp_path / "out.tar"))
        with tarfile.open(tmp_path / "out.tar") as tar:
            assert any(m.name.endswith("hello.txt") for m in tar.getmembers())
        assert set(cli.json("files", "rm", sid, "/srv/g/hello.txt")) == GOLDEN["files rm"]
        assert cli.run("files", "get", sid, "/srv/g/hello.txt").returncode == 1

        assert set(cli.json("usage", sid)) == GOLDEN["usage"]
        assert set(cli.json("usage")) >= GOLDEN["usage account"]
        assert "complete" in cli.ok("completion", "bash").stdout
        assert json.loads(cli.ok("openapi").stdout)["openapi"].startswith("3.")
        assert "s4a_servers_running" in cli.ok("metrics").stdout  # loopback may read them
        # A key: whoami names its scopes; the password change ends other sessions.
        key = cli.json("key", "create", "--name", "golden", "--scope", "servers:read")
        agent = cli_factory()
        env = {"S4A_API_URL": srv.base_url, "S4A_API_KEY": key["token"], "S4A_CA_CERT": str(srv.ca)}
        me = agent.json("whoami", env=env)
        assert me["type"] == "api_key" and me["scopes"] == ["servers:read"] and "token" not in json.dumps(me)
        changed = cli.json("account", "password", "--password-stdin",
                           input="correct horse battery staple\nanother horse battery staple\n")
        assert changed == {"changed": True}
    finally:
        cli.run("server", "delete", sid)


def test_the_readme_walkthrough_from_a_key_to_a_public_url(make_server, cli_factory, tmp_path):
    from test_ingress import AppClient, wait_until

    srv = make_server()
    person = cli_factory()
    acct = signup_and_login(srv)
    person.login(srv, acct)
    key = person.json("key", "create", "--name", "agent", "--scope", "projects:read", "--scope", "projects:write",
                      "--scope", "servers:read", "--scope", "servers:write", "--scope", "servers:exec")
    agent = cli_factory()
    env = {"S4A_API_URL": srv.base_url, "S4A_API_KEY": key["token"], "S4A_CA_CERT": str(srv.ca)}
    (tmp_path / "index.html").write_text("walked through\n")

    agent.ok("project", "create", "Shop", "--slug", "walk", env=env)
    sid = agent.json("server", "create", "--project", "walk", "--name", "web", "--budget-usd", "1", env=env)["id"]
    agent.ok("files", "put", sid, str(tmp_path / "index.html"), "/srv/index.html", env=env)
    agent.ok("deploy", sid, "--", "python3", "-m", "http.server", "--directory", "/srv", "8080", env=env)
    agent.ok("attach", "walk", sid, env=env)
    url = agent.ok("open", "walk", env=env).stdout.strip()
    assert url == f"https://walk.{srv.apps_domain}:{srv.port}"
    # The agent cannot publish; the person does.
    assert agent.run("project", "publish", "walk", env=env).returncode == 1
    person.ok("project", "publish", "walk")
    host = f"walk.{srv.apps_domain}"
    body = wait_until(lambda: (a := AppClient(srv, host).request("GET", "/", host))[0] == 200 and a[2])
    assert body == b"walked through\n"
    agent.ok("server", "delete", sid, env=env)
