"""The module-graph check (scripts/check-imports.py): it passes on this tree, and it fails, naming
the file, the line and the edge, on an import or a target dependency the graph does not allow.

These tests need no s4a binary: they run the checker on this repository and on copies of it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
CHECKER = REPO_ROOT / "scripts" / "check-imports.py"


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(CHECKER), *args], capture_output=True, text=True, timeout=120)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of what the checker reads: Sources/, Tests/ and the graph."""
    for part in ("Sources", "Tests"):
        shutil.copytree(REPO_ROOT / part, tmp_path / part, ignore=shutil.ignore_patterns("*.yaml", "Static", "Templates"))
    (tmp_path / "scripts").mkdir()
    shutil.copy(REPO_ROOT / "scripts" / "module-graph.txt", tmp_path / "scripts")
    return tmp_path


def test_this_tree_and_its_package_pass():
    done = run()
    assert done.returncode == 0, done.stderr
    assert "every import and target dependency is allowed" in done.stdout


def test_the_api_importing_the_dashboard_fails(tree: Path):
    victim = tree / "Sources" / "S4AAPI" / "Handlers" / "APIHandler.swift"
    lines = victim.read_text().splitlines()
    lines.insert(1, "import S4ADashboard")
    victim.write_text("\n".join(lines) + "\n")
    done = run("--root", str(tree), "--no-package")
    assert done.returncode == 1
    assert "Sources/S4AAPI/Handlers/APIHandler.swift:2: S4AAPI imports S4ADashboard" in done.stderr
    assert "does not allow" in done.stderr


@pytest.mark.parametrize("line", ["@testable import S4AAPI", "@_exported import S4AAPI", "public import S4AAPI",
                                  "import struct S4AAPI.APIHandler", "  @preconcurrency import S4AAPI"])
def test_every_spelling_of_an_import_counts(tree: Path, line: str):
    victim = tree / "Sources" / "S4ADashboard" / "Dashboard.swift"
    victim.write_text(line + "\n" + victim.read_text())
    done = run("--root", str(tree), "--no-package")
    assert done.returncode == 1
    assert "Sources/S4ADashboard/Dashboard.swift:1: S4ADashboard imports S4AAPI" in done.stderr


def test_an_import_in_a_comment_does_not_count(tree: Path):
    victim = tree / "Sources" / "S4ADomain" / "Support" / "DomainError.swift"
    victim.write_text("/*\nimport S4AWeb\n*/\n// import S4AWeb\n" + victim.read_text())
    done = run("--root", str(tree), "--no-package")
    assert done.returncode == 0, done.stderr


def test_a_test_target_is_held_to_the_graph_too(tree: Path):
    victim = next((tree / "Tests" / "S4ADomainTests").glob("*.swift"))
    victim.write_text("@testable import S4AStore\n" + victim.read_text())
    done = run("--root", str(tree), "--no-package")
    assert done.returncode == 1
    assert "S4ADomainTests imports S4AStore" in done.stderr


def test_a_module_missing_from_the_graph_fails(tree: Path):
    (tree / "Sources" / "S4ANew").mkdir()
    (tree / "Sources" / "S4ANew" / "New.swift").write_text("import S4ADomain\n")
    done = run("--root", str(tree), "--no-package")
    assert done.returncode == 2
    assert "module S4ANew is not in scripts/module-graph.txt" in done.stderr


def test_a_cycle_in_the_graph_fails(tree: Path):
    graph = tree / "scripts" / "module-graph.txt"
    graph.write_text(graph.read_text().replace("\nS4ADomain:\n", "\nS4ADomain: S4AStore\n"))
    done = run("--root", str(tree), "--no-package")
    assert done.returncode == 2
    assert "cycle" in done.stderr


def test_a_forbidden_target_dependency_in_the_package_fails(tree: Path):
    """Package.swift as `swift package dump-package` describes it, with one edge the graph forbids."""
    graph = (tree / "scripts" / "module-graph.txt").read_text()
    targets = []
    for raw in graph.splitlines():
        line = raw.split("#", 1)[0].strip()
        if line:
            name, _, rest = line.partition(":")
            targets.append({"name": name.strip(), "dependencies": [{"byName": [d, None]} for d in rest.split()]})
    package = {"targets": targets}
    dump = tree / "package.json"
    dump.write_text(json.dumps(package))
    assert run("--root", str(tree), "--package-json", str(dump)).returncode == 0
    api = next(t for t in targets if t["name"] == "S4AAPI")
    api["dependencies"].append({"byName": ["S4ADashboard", None]})
    api["dependencies"].append({"product": ["Hummingbird", "hummingbird", None, None]})
    dump.write_text(json.dumps(package))
    done = run("--root", str(tree), "--package-json", str(dump))
    assert done.returncode == 1
    assert "Package.swift: target S4AAPI depends on S4ADashboard, which scripts/module-graph.txt does not allow" in done.stderr
