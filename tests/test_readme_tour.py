"""The README's five-minute tour, run as written against a fresh `s4a serve`: its shell block
is taken from README.md (the one after `<!-- tour -->`), pointed at the test's port and CA,
and run with bash in an empty directory, `s4a` on the PATH and a home of its own."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from conftest import s4a_bin

README = Path(__file__).resolve().parent.parent / "README.md"


def tour_block() -> str:
    text = README.read_text()
    found = re.search(r"<!-- tour -->\n```sh\n(.*?)\n```", text, re.S)
    assert found, "README.md has no tour block"
    return found.group(1)


def test_the_readme_tour_runs_as_written(make_server, tmp_path):
    srv = make_server()
    script = tour_block()
    # The tour speaks of make serve's defaults: this server's port and CA instead.
    assert "https://localhost:8443" in script and "$PWD/.s4a/tls/ca.pem" in script
    script = script.replace(":8443", f":{srv.port}").replace("$PWD/.s4a/tls/ca.pem", str(srv.ca))
    work = tmp_path / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("S4A_")}
    env.update(HOME=str(tmp_path / "home"), PATH=f"{s4a_bin().parent}:{os.environ['PATH']}")
    assert Path(s4a_bin()).name == "s4a"
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=work, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    lines = done.stdout.splitlines()
    # Private: what a name nobody took answers. Published: the page the tour wrote.
    assert "404" in lines, done.stdout
    assert "<h1>Hello from Server4Agent</h1>" in lines, done.stdout
    assert lines.index("404") < lines.index("<h1>Hello from Server4Agent</h1>")
    # It tidied up after itself.
    assert list(work.iterdir()) == []
    assert "project.visibility_changed" in done.stdout or "server.deleted" in done.stdout or "server.attached" in done.stdout
