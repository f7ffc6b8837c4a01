#!/usr/bin/env python3
"""The hostile load of bench/ocsp_flood_bench.sh, bounded in time, on
loopback only.

  login PORT CLIENTS SECONDS
      CLIENTS threads post wrong passwords to /api/login for SECONDS, as
      fast as they are answered, each guess from a new loopback address
      (127.x.y.z, x = the client + 1) and for a new name, so that neither
      the per-address nor the per-operator wait answers it cheaply: each
      costs the server a password hash. Prints the answers counted by
      status.
  hold PORT PER_ADDRESS FIRST_ADDRESS ADDRESSES SECONDS
      from ADDRESSES loopback addresses (127.0.0.FIRST_ADDRESS on), each
      holds PER_ADDRESS connections trickling a request's headers and
      reconnects what the server closes, for SECONDS; after a second it
      checks from one more address whether the listener still takes a
      connection, and prints that with the connections made and refused.
"""
import http.client
import json
import socket
import sys
import threading
import time

mode, port = sys.argv[1], int(sys.argv[2])
lock = threading.Lock()
counts = {}


def count(key):
    with lock:
        counts[key] = counts.get(key, 0) + 1


def login(k, stop):
    n = 0
    while time.time() < stop:
        n += 1
        a = 1 + (k * 1000003 + n) % 250
        b = (k * 7919 + n // 250) % 250
        body = json.dumps({"operator": "guess%d-%d" % (k, n),
                           "password": "not the password"})
        try:
            c = http.client.HTTPConnection(
                "127.0.0.1", port, timeout=60,
                source_address=("127.%d.%d.%d" % (k + 1, b, a), 0))
            c.request("POST", "/api/login", body=body,
                      headers={"Content-Type": "application/json"})
            r = c.getresponse()
            r.read()
            c.close()
            count(r.status)
        except OSError:
            count("error")
            time.sleep(0.05)


def hold(src, stop):
    while time.time() < stop:
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=2,
                                         source_address=(src, 0))
            s.settimeout(0.5)
            count("connected")
            for b in b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + \
                    b"a" * 1000:
                if time.time() >= stop:
                    break
                s.send(bytes([b]))
                try:
                    if s.recv(4096) == b"":
                        count("closed by the server")
                        break
                except socket.timeout:
                    pass
            s.close()
        except OSError:
            time.sleep(0.05)


if mode == "login":
    clients, secs = int(sys.argv[3]), float(sys.argv[4])
    stop = time.time() + secs
    threads = [threading.Thread(target=login, args=(k, stop))
               for k in range(clients)]
else:
    per, first, addrs, secs = (int(sys.argv[3]), int(sys.argv[4]),
                               int(sys.argv[5]), float(sys.argv[6]))
    stop = time.time() + secs
    threads = [threading.Thread(target=hold,
                                args=("127.0.0.%d" % (first + a), stop))
               for a in range(addrs) for _ in range(per)]
for t in threads:
    t.start()
if mode == "hold":
    time.sleep(1.0)
    probe = socket.create_connection(("127.0.0.1", port), timeout=2,
                                     source_address=("127.0.0.%d" %
                                                     (first + addrs), 0))
    probe.settimeout(1.0)
    try:
        full = probe.recv(100)[:12] in (b"", b"HTTP/1.1 503")
    except ConnectionResetError:
        full = True
    except socket.timeout:
        full = False
    probe.close()
    counts["listener full"] = "yes" if full else "no"
for t in threads:
    t.join()
print(" ".join("%s=%s" % (k, v) for k, v in sorted(counts.items(),
                                                       key=str)))
