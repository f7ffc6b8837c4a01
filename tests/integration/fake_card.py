#!/usr/bin/env python3
"""A card that is not a JPKI card, behind pcscd's vpcd reader: it answers
every command with 6A 82 (file or application not found), as a bank or
transport card would to the JPKI AP's SELECT. Used to test the client's
"wrong card" message.

usage: fake_card.py PORT   (vpcd's second slot is 35964)
"""
import socket
import struct
import sys
import time

ATR = bytes.fromhex("3B8F8001804F0CA000000306030001000000006A")


def serve(port):
    while True:
        try:
            s = socket.create_connection(("127.0.0.1", port))
        except OSError:
            time.sleep(0.2)
            continue
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            while True:
                head = s.recv(2, socket.MSG_WAITALL)
                if len(head) < 2:
                    break
                (n,) = struct.unpack(">H", head)
                msg = s.recv(n, socket.MSG_WAITALL)
                if n == 1:
                    if msg[0] == 4:  # send the ATR
                        s.sendall(struct.pack(">H", len(ATR)) + ATR)
                    continue
                s.sendall(struct.pack(">H", 2) + b"\x6a\x82")
        finally:
            s.close()


if __name__ == "__main__":
    serve(int(sys.argv[1]))
