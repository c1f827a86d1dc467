#!/usr/bin/env python3
"""Rebuilds the dashboard's vendored xterm.js from Debian's packages (run by hand, then commit).

Debian 12's libjs-xterm ships a browser xterm.js that is only a stub (it `require`s
"./public/Terminal", which no browser has), so the browser bundle is made here from the
CommonJS modules of the same source package's node-xterm (3.8.1): each module is wrapped in
a function and looked up by its path, the way browserify does, and the fit addon is applied.
The result defines `window.Terminal` and needs no loader, no CDN and no inline script.

    apt-get install -y node-xterm libjs-xterm && python3 scripts/vendor-xterm.py
"""

from __future__ import annotations

import json
import posixpath
import re
from pathlib import Path

LIB = Path("/usr/share/nodejs/xterm/lib")
ADDONS = Path("/usr/share/javascript/xterm/addons")
COPYRIGHT = Path("/usr/share/doc/node-xterm/copyright")
STATIC = Path(__file__).resolve().parent.parent / "Sources" / "S4ADashboard" / "Static"
VERSION = json.loads((LIB.parent / "package.json").read_text())["version"]

LOADER = """\
// xterm.js %(version)s (MIT, see xterm.LICENSE), from Debian's node-xterm: its CommonJS modules
// bundled by scripts/vendor-xterm.py. Defines window.Terminal with the fit addon applied.
(function () {
  "use strict";
  var sources = {}, cache = {};
  function resolve(from, path) { return path.charAt(0) === "." ? normalize(dirname(from) + "/" + path) : path; }
  function dirname(id) { var i = id.lastIndexOf("/"); return i < 0 ? "" : id.slice(0, i); }
  function normalize(path) {
    var out = [];
    path.split("/").forEach(function (part) {
      if (part === "..") out.pop(); else if (part && part !== ".") out.push(part);
    });
    return out.join("/");
  }
  function load(id) {
    if (cache[id]) return cache[id].exports;
    if (!sources[id]) throw new Error("xterm bundle: no module " + id);
    var module = cache[id] = { exports: {} };
    sources[id].call(module.exports, function (path) { return load(resolve(id, path)); }, module, module.exports);
    return module.exports;
  }
%(modules)s
  var Terminal = load("public/Terminal").Terminal;
  Terminal.applyAddon(load("addons/fit/fit"));
  window.Terminal = Terminal;
})();
"""


def module(id_: str, source: str) -> str:
    source = re.sub(r"^//# sourceMappingURL=.*$", "", source, flags=re.M).rstrip()
    return f"  sources[{json.dumps(id_)}] = function (require, module, exports) {{\n{source}\n  }};\n"


def main() -> None:
    parts = []
    for path in sorted(LIB.rglob("*.js")):
        relative = path.relative_to(LIB).as_posix()
        if relative.endswith(".test.js") or relative.startswith(("addons/", "test/")) or "/test/" in relative:
            continue
        parts.append(module(posixpath.splitext(relative)[0], path.read_text()))
    parts.append(module("addons/fit/fit", (ADDONS / "fit" / "fit.js").read_text()))
    (STATIC / "xterm.js").write_text(LOADER % {"version": VERSION, "modules": "".join(parts)})
    (STATIC / "xterm.css").write_text((LIB / "xterm.css").read_text())
    license = COPYRIGHT.read_text()
    expat = license[license.index("License: Expat\n Permission"):].split("\n", 1)[1]
    text = "\n".join(line[1:] if line.startswith(" ") else line for line in expat.splitlines())
    text = text.replace("\n.\n", "\n\n")
    (STATIC / "xterm.LICENSE").write_text(
        f"xterm.js {VERSION}, https://github.com/xtermjs/xterm.js (from Debian's node-xterm and libjs-xterm)\n\n"
        "Copyright (c) 2014-2016 SourceLair Private Company <https://www.sourcelair.com>\n"
        "Copyright (c) 2012-2013 Christopher Jeffrey <https://github.com/chjj>\n"
        "Copyright (c) 2011 Fabrice Bellard <http://bellard.org/jslinux/> (xterm.css)\n\n"
        "MIT License (Expat)\n\n" + text.strip() + "\n")


if __name__ == "__main__":
    main()
