#!/usr/bin/env python3
"""Fails when a module imports one of the package's own modules that the module graph does not allow.

The graph is scripts/module-graph.txt (the one place it is written down). Every Swift file
under Sources/<Module>/ and Tests/<Target>/ is read for `import X` lines (with any attributes:
`@testable`, `@_exported`, `public`, `import struct X.Y`…); an import of one of our modules
that the graph does not list for that module is reported with its file and line. Package.swift's
target dependencies on our modules are checked against the same graph (from
`swift package dump-package`), so a forbidden edge cannot hide in the manifest either.

Exit status: 0 when everything agrees, 1 on a forbidden import or dependency, 2 on a graph or
tree that cannot be read (a module on disk missing from the graph, an unknown name, a cycle).

    scripts/check-imports.py                       # this repository, Package.swift included
    scripts/check-imports.py --root DIR --no-package
    scripts/check-imports.py --package-json dump.json
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
IMPORT = re.compile(
    r"^\s*(?:@[A-Za-z_]\w*(?:\([^)]*\))?\s+)*"  # @testable, @_exported, @preconcurrency, @_spi(X)
    r"(?:(?:public|package|internal|fileprivate|private)\s+)?"
    r"import\s+(?:(?:typealias|struct|class|enum|protocol|let|var|func)\s+)?"
    r"([A-Za-z_]\w*)"
)


class GraphError(Exception):
    pass


def read_graph(path: Path) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        module, colon, rest = line.partition(":")
        module = module.strip()
        if not colon or not re.fullmatch(r"[A-Za-z_]\w*", module):
            raise GraphError(f"{path}:{number}: expected `Module: Dependency …`, got {raw!r}")
        if module in graph:
            raise GraphError(f"{path}:{number}: {module} is listed twice")
        graph[module] = set(rest.split())
    for module, allowed in graph.items():
        unknown = sorted(allowed - graph.keys())
        if unknown:
            raise GraphError(f"{path}: {module} may import {', '.join(unknown)}, which the graph does not list as modules")
        if module in allowed:
            raise GraphError(f"{path}: {module} lists itself")
    cycle = find_cycle(graph)
    if cycle:
        raise GraphError(f"{path}: the graph has a cycle: {' -> '.join(cycle)}")
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for next_node in sorted(graph[node]):
            if state.get(next_node) == 1:
                return path[path.index(next_node):] + [next_node]
            if next_node not in state:
                found = visit(next_node)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def module_directories(root: Path) -> dict[str, Path]:
    """Sources/<Module> and Tests/<Target>: every directory there is a module."""
    found: dict[str, Path] = {}
    for top in ("Sources", "Tests"):
        base = root / top
        if not base.is_dir():
            continue
        for entry in sorted(base.iterdir()):
            if entry.is_dir():
                found[entry.name] = entry
    return found


def imports_in(path: Path) -> list[tuple[int, str]]:
    found = []
    in_comment = False
    for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        stripped = line.strip()
        if in_comment:
            in_comment = "*/" not in stripped
            continue
        if stripped.startswith("/*"):
            in_comment = "*/" not in stripped
            continue
        match = IMPORT.match(line)
        if match:
            found.append((number, match.group(1)))
    return found


def check_imports(root: Path, graph: dict[str, set[str]], graph_name: str) -> tuple[list[str], list[str]]:
    """(forbidden imports, problems with the tree itself)."""
    errors: list[str] = []
    problems: list[str] = []
    directories = module_directories(root)
    for name in sorted(directories.keys() - graph.keys()):
        problems.append(f"{directories[name].relative_to(root)}: module {name} is not in {graph_name}; add it with what it may import")
    for name in sorted(graph.keys() - directories.keys()):
        problems.append(f"{graph_name}: {name} has no directory under Sources/ or Tests/; remove it from the graph")
    for module, directory in sorted(directories.items()):
        allowed = graph.get(module)
        if allowed is None:
            continue
        for file in sorted(directory.rglob("*.swift")):
            for number, imported in imports_in(file):
                if imported in graph and imported != module and imported not in allowed:
                    errors.append(
                        f"{file.relative_to(root)}:{number}: {module} imports {imported}, which {graph_name} does not allow "
                        f"({module} may import: {', '.join(sorted(allowed)) or 'none of ours'})")
    return errors, problems


def dump_package(root: Path) -> dict:
    swift = shutil.which("swift") or ("/opt/swift/usr/bin/swift" if os.access("/opt/swift/usr/bin/swift", os.X_OK) else None)
    if not swift:
        raise GraphError("no `swift` on PATH to read Package.swift (pass --no-package to skip that check)")
    done = subprocess.run([swift, "package", "--package-path", str(root), "dump-package"],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise GraphError(f"swift package dump-package failed:\n{done.stderr.strip()}")
    return json.loads(done.stdout)


def check_package(package: dict, graph: dict[str, set[str]], graph_name: str) -> tuple[list[str], list[str]]:
    errors: list[str] = []
    problems: list[str] = []
    targets = {target["name"]: target for target in package.get("targets", [])}
    for name in sorted(targets.keys() - graph.keys()):
        problems.append(f"Package.swift: target {name} is not in {graph_name}; add it with what it may import")
    for name in sorted(graph.keys() - targets.keys()):
        problems.append(f"{graph_name}: {name} is not a target of Package.swift")
    for name, target in sorted(targets.items()):
        allowed = graph.get(name)
        if allowed is None:
            continue
        for dependency in target.get("dependencies", []):
            kind, value = next(iter(dependency.items()))
            if kind not in ("byName", "target"):
                continue  # a product of another package
            used = value[0]
            if used in graph and used not in allowed:
                errors.append(f"Package.swift: target {name} depends on {used}, which {graph_name} does not allow "
                              f"({name} may import: {', '.join(sorted(allowed)) or 'none of ours'})")
    return errors, problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=HERE.parent, help="the package's directory (default: this repository)")
    parser.add_argument("--graph", type=Path, help="the graph (default: <root>/scripts/module-graph.txt)")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--no-package", action="store_true", help="do not check Package.swift")
    source.add_argument("--package-json", type=Path, help="`swift package dump-package` output to check instead of running it")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    graph_path = (args.graph or root / "scripts" / "module-graph.txt").resolve()
    graph_name = os.path.relpath(graph_path, root) if graph_path.is_relative_to(root) else str(graph_path)
    try:
        graph = read_graph(graph_path)
        errors, problems = check_imports(root, graph, graph_name)
        if not args.no_package:
            package = json.loads(args.package_json.read_text()) if args.package_json else dump_package(root)
            more_errors, more_problems = check_package(package, graph, graph_name)
            errors += more_errors
            problems += more_problems
    except (GraphError, OSError, json.JSONDecodeError) as error:
        print(f"check-imports: {error}", file=sys.stderr)
        return 2
    for line in problems + errors:
        print(line, file=sys.stderr)
    if problems:
        return 2
    if errors:
        what = "edge" if len(errors) == 1 else "edges"
        print(f"check-imports: {len(errors)} {what} the graph does not allow; the graph is {graph_name}", file=sys.stderr)
        return 1
    print(f"check-imports: every import and target dependency is allowed by {graph_name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
