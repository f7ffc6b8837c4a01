#!/usr/bin/env python3
"""Writes src/http/readers.inc: the readers of the CCID driver pcscd loads
(its Info.plist's ifdFriendlyName), for the portal's list of readers."""
import plistlib
import subprocess
import sys

PLIST = "/usr/lib/pcsc/drivers/ifd-ccid.bundle/Contents/Info.plist"
out = sys.argv[1] if len(sys.argv) > 1 else "src/http/readers.inc"
version = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "libccid"],
                         capture_output=True, text=True).stdout or "?"
with open(PLIST, "rb") as f:
    names = sorted(set(plistlib.load(f)["ifdFriendlyName"]), key=str.lower)
with open(out, "w") as f:
    f.write("/*\n * The PC/SC readers pcscd drives on Debian 12: the "
            "ifdFriendlyName list of\n * the CCID driver it loads (libccid "
            f"{version},\n * {PLIST}), sorted, each\n * name once. Regenerate "
            "with scripts/readers.py when the driver changes.\n */\n")
    for n in names:
        f.write('"%s",\n' % n.replace("\\", "\\\\").replace('"', '\\"'))
