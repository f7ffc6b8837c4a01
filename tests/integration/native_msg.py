#!/usr/bin/env python3
"""Talks to a native-messaging host as the browser does (4-byte length in the
machine's byte order, then UTF-8 JSON), for tests/integration/test_bridge_*.sh.

    native_msg.py HOST                 one JSON request a line on stdin,
                                       one JSON reply a line on stdout
    native_msg.py HOST --raw-length N  sends only a length of N bytes (and
                                       no body); prints the reply, if any
    native_msg.py HOST --truncate      sends a length and half the body
Exit status: the host's.
"""
import json
import struct
import subprocess
import sys


def read_reply(out):
    head = out.read(4)
    if len(head) < 4:
        return None
    (n,) = struct.unpack("=I", head)
    return out.read(n).decode("utf-8")


def main():
    host, args = sys.argv[1], sys.argv[2:]
    p = subprocess.Popen([host, "chrome-extension://test/"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    if args and args[0] == "--raw-length":
        p.stdin.write(struct.pack("=I", int(args[1])))
        p.stdin.flush()
        print(read_reply(p.stdout))
        p.stdin.close()
    elif args and args[0] == "--truncate":
        body = b'{"id":"t1","op":"certificates","origin":"https://a.example"}'
        p.stdin.write(struct.pack("=I", len(body)) + body[: len(body) // 2])
        p.stdin.close()
        print(read_reply(p.stdout))
    else:
        for line in sys.stdin:
            line = line.rstrip("\n")
            if not line:
                continue
            body = line.encode("utf-8")
            p.stdin.write(struct.pack("=I", len(body)) + body)
            p.stdin.flush()
            reply = read_reply(p.stdout)
            if reply is None:
                break
            print(reply, flush=True)
        p.stdin.close()
    sys.exit(p.wait())


if __name__ == "__main__":
    main()
