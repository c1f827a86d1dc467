"""`make install` puts `s4a` on the PATH and a systemd unit for `s4a serve` beside it (into a
DESTDIR here, with the binary the tests test)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from conftest import s4a_bin

ROOT = Path(__file__).resolve().parent.parent


def test_make_install_puts_the_binary_and_a_restarting_unit_in_place(tmp_path):
    dest = tmp_path / "root"
    done = subprocess.run(["make", "-C", str(ROOT), "install", f"DESTDIR={dest}", f"INSTALL_BIN={s4a_bin()}"],
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    binary = dest / "usr/local/bin/s4a"
    assert binary.stat().st_mode & 0o111
    version = subprocess.run([str(binary), "--help"], capture_output=True, text=True)
    assert version.returncode == 0 and "serve" in version.stdout
    unit = (dest / "etc/systemd/system/s4a.service").read_text()
    assert "ExecStart=/usr/local/bin/s4a serve --data-dir /var/lib/s4a" in unit
    assert "Restart=always" in unit
    # Restarting the control plane must not take the servers' keepers and supervisors with it.
    assert "KillMode=process" in unit
    assert not (ROOT / "s4a.service.tmp").exists()
