"""Servers through the command line: create, exec with the remote exit code, stop/start,
delete; an agent's key does it all with the environment only."""

from __future__ import annotations

import json

from conftest import Cli, Server


def agent_env(server: Server, cli: Cli, scopes: list[str]) -> dict[str, str]:
    args = ["key", "create", "--name", "agent"]
    for scope in scopes:
        args += ["--scope", scope]
    token = cli.json(*args)["token"]
    return {"S4A_API_URL": server.base_url, "S4A_API_KEY": token, "S4A_CA_CERT": str(server.ca)}


def test_server_lifecycle_and_exec_exit_codes(server, account, cli, cli_factory):
    cli.login(server, account)
    project = cli.json("project", "create", "Servers CLI")
    env = agent_env(server, cli, ["projects:read", "servers:read", "servers:write", "servers:exec"])
    agent = cli_factory()

    created = agent.json("server", "create", "--project", project["slug"], "--name", "web",
                         "--budget-usd", "0.75", "--memory-mb", "128", "--disk-mb", "64", env=env)
    sid = created["id"]
    assert created["state"] == "running" and created["budget_usd"] == "0.75"
    try:
        ran = agent.run("exec", sid, "--", "sh", "-c", "echo out; echo err >&2; exit 42", env=env)
        assert ran.returncode == 42, ran
        assert ran.stdout == "out\n" and ran.stderr == "err\n"
        assert agent.run("exec", sid, "--", "true", env=env).returncode == 0
        piped = agent.run("exec", sid, "--env", "WHO=agent", "--", "sh", "-c", "tr a-z A-Z; echo $WHO",
                          input="quiet\n", env=env)
        assert piped.stdout == "QUIET\nagent\n", piped
        listed = agent.json("server", "list", "--project", project["slug"], env=env)
        assert [s["id"] for s in listed] == [sid]

        assert agent.json("server", "stop", sid, env=env)["state"] == "stopped"
        stopped = agent.run("exec", sid, "--", "true", env=env)
        assert stopped.returncode == 1 and "409" in stopped.stderr, stopped
        assert agent.json("server", "start", sid, env=env)["state"] == "running"

        # Usage mistakes exit 2 and run nothing.
        assert agent.run("exec", sid, env=env).returncode == 2
        assert agent.run("server", "create", "--project", project["slug"], env=env).returncode == 2
    finally:
        out = agent.run("server", "delete", sid, env=env)
    assert out.returncode == 0, out
    assert agent.run("server", "show", sid, env=env).returncode == 1


def test_exec_needs_the_exec_scope(server, account, cli, cli_factory):
    cli.login(server, account)
    project = cli.json("project", "create", "Exec Scope")
    created = cli.json("server", "create", "--project", project["id"], "--name", "x", "--budget-usd", "1",
                       "--memory-mb", "64", "--disk-mb", "64")
    try:
        env = agent_env(server, cli, ["servers:read"])
        denied = cli_factory().run("exec", created["id"], "--", "true", env=env)
        assert denied.returncode == 1 and "403" in denied.stderr, denied
    finally:
        cli.ok("server", "delete", created["id"])


def test_files_put_get_ls(server, account, cli, tmp_path):
    cli.login(server, account)
    project = cli.json("project", "create", "Files CLI")
    sid = cli.json("server", "create", "--project", project["id"], "--name", "f", "--budget-usd", "1",
                   "--memory-mb", "64", "--disk-mb", "64")["id"]
    try:
        local = tmp_path / "app.py"
        local.write_bytes(b"print('hello from a file')\n\x00\xff")
        cli.ok("files", "put", sid, str(local), "/srv/app/app.py")
        back = tmp_path / "back.py"
        cli.ok("files", "get", sid, "/srv/app/app.py", str(back))
        assert back.read_bytes() == local.read_bytes()
        listing = cli.json("files", "ls", sid, "/srv/app")
        assert [(e["name"], e["type"], e["size"]) for e in listing["items"]] == [("app.py", "file", local.stat().st_size)]
        assert listing["dir"] == "/srv/app"
        cli.ok("files", "put", sid, "-", "/srv/app/note.txt", input="from stdin\n")
        assert cli.ok("files", "get", sid, "/srv/app/note.txt").stdout == "from stdin\n"
        missing = cli.run("files", "get", sid, "/nope")
        assert missing.returncode == 1 and "404" in missing.stderr
    finally:
        cli.ok("server", "delete", sid)


def test_background_exec_and_logs_follow(server, account, cli):
    """`s4a exec --background` leaves a command running; `s4a logs` shows it; `-f` streams new
    lines while they are written and ends when the server stops."""
    cli.login(server, account)
    project = cli.json("project", "create", "Logs CLI")
    sid = cli.json("server", "create", "--project", project["id"], "--name", "l", "--budget-usd", "1",
                   "--memory-mb", "64", "--disk-mb", "64")["id"]
    try:
        # --json before --: what follows -- is the command's.
        run = json.loads(cli.ok("exec", "--background", "--json", sid, "--", "sh", "-c",
                                "echo ready; while [ ! -e /tmp/go ]; do sleep 0.1; done; echo Released").stdout)
        assert run["kind"] == "background" and run["state"] == "running"
        follow = cli.popen("logs", sid, "-f")
        try:
            assert "ready" in follow.stdout.readline() + follow.stdout.readline()
            assert cli.run("exec", sid, "--", "touch", "/tmp/go").returncode == 0
            seen = ""
            while "Released" not in seen:
                seen += follow.stdout.readline()
            assert cli.json("server", "stop", sid)["state"] == "stopped"
            assert follow.wait(timeout=20) == 0, follow.stderr.read()
        finally:
            follow.kill()
        lines = cli.json("logs", sid, "-q", "released")
        assert [line["text"] for line in lines] == ["Released"] and lines[0]["run_id"] == run["id"]
        plain = cli.ok("logs", sid, "--limit", "1").stdout
        assert plain.rstrip("\n").count("\n") == 0 and "exited with code" in plain, plain
        assert cli.run("logs", sid, "--since", "yesterday").returncode == 2
        assert cli.run("exec", "--background", "--timeout", "5", sid, "--", "true").returncode == 2
        # A background run is stopped for good by name; `s4a run SERVER RUN` still shows a run.
        assert cli.json("server", "start", sid)["state"] == "running"
        forever = json.loads(cli.ok("exec", "--background", "--json", sid, "--", "sleep", "1000").stdout)
        stopped = cli.json("run", "stop", sid, forever["id"])
        assert stopped["id"] == forever["id"] and stopped["state"] == "exited", stopped
        assert cli.json("run", sid, forever["id"])["state"] == "exited"
        assert "sleep 1000" not in cli.ok("exec", sid, "--", "ps", "-eo", "args").stdout
        activity = cli.json("activity", "--limit", "5")
        assert any(event["action"] == "run.cancelled" and event["target"]["id"] == forever["id"] for event in activity), activity
    finally:
        cli.run("server", "delete", sid)


def test_shell_takes_piped_input_and_exits_with_the_shells_code(server, account, cli):
    """`s4a shell` on a pipe: the input is typed into the server's terminal, then Ctrl-D;
    the command exits with the shell's code. A stopped server's shell is refused with 409."""
    cli.login(server, account)
    project = cli.json("project", "create", "Shell CLI")
    sid = cli.json("server", "create", "--project", project["id"], "--name", "sh", "--budget-usd", "1",
                   "--memory-mb", "64", "--disk-mb", "64")["id"]
    try:
        ran = cli.run("shell", sid, input="echo from-$(hostname)\ntty\nexit 5\n")
        assert ran.returncode == 5, ran
        assert f"from-{sid}" in ran.stdout and "/dev/pts/" in ran.stdout, ran.stdout
        # Input that ends without `exit`: Ctrl-D ends the shell, which exits 0.
        assert cli.run("shell", sid, input="true\n").returncode == 0
        cli.ok("server", "stop", sid)
        refused = cli.run("shell", sid, input="")
        assert refused.returncode == 1 and "409" in refused.stderr, refused
    finally:
        cli.run("server", "delete", sid)


def test_secret_commands_read_values_from_stdin_and_never_print_them(server, account, cli):
    cli.login(server, account)
    project = cli.json("project", "create", "Secrets CLI")
    sid = cli.json("server", "create", "--project", project["id"], "--name", "s", "--budget-usd", "1",
                   "--memory-mb", "64", "--disk-mb", "64")["id"]
    try:
        out = cli.ok("secret", "set", "API_TOKEN", "--project", project["slug"], input="cli-secret-value-123\n")
        assert "cli-secret-value-123" not in out.stdout + out.stderr
        cli.ok("secret", "set", "API_TOKEN", "--server", sid, input="server-level-456")
        listed = cli.json("secret", "list", "--project", project["id"])
        assert [(s["name"], s["scope"]) for s in listed] == [("API_TOKEN", "project")]
        assert cli.json("secret", "list", "--server", sid)[0]["scope"] == "server"
        ran = cli.run("exec", sid, "--", "sh", "-c", 'test "$API_TOKEN" = server-level-456 && echo "$API_TOKEN"')
        assert ran.returncode == 0 and ran.stdout == "***\n", ran
        cli.ok("secret", "delete", "API_TOKEN", "--server", sid)
        ran = cli.run("exec", sid, "--", "sh", "-c", 'test "$API_TOKEN" = cli-secret-value-123')
        assert ran.returncode == 0, ran
        assert cli.run("secret", "set", "API_TOKEN", input="x").returncode == 2  # neither --project nor --server
        assert cli.run("secret", "set", "bad-name", "--server", sid, input="x").returncode == 1
    finally:
        cli.run("server", "delete", sid)
