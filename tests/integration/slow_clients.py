#!/usr/bin/env python3
"""Hostile clients against `jpki serve` on loopback, while a good client
asks OCSP questions: it must keep answering each in well under a second.

  - 40 clients connect and send nothing;
  - 8 clients send a request one byte a second;
  - 4 clients send an oversized body (they must get 413, not hang it).

usage: slow_clients.py PORT OCSP_REQUEST_DER  (bounded: about 12 s)
"""
import http.client
import socket
import sys
import threading
import time

port = int(sys.argv[1])
request = open(sys.argv[2], "rb").read()
stop = time.time() + 10
problems = []
refused = []  # oversized bodies answered 413


def idle():
    s = socket.create_connection(("127.0.0.1", port))
    while time.time() < stop:
        time.sleep(0.2)
    s.close()


def dribble():
    s = socket.create_connection(("127.0.0.1", port))
    head = b"POST /ocsp HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n"
    try:
        for b in head:
            if time.time() >= stop:
                break
            s.send(bytes([b]))
            time.sleep(1)
    except OSError:
        pass  # the server may close a client this slow: that is fine
    s.close()


def oversized():
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(8)
    size = 64 * 1024 * 1024
    s.send(b"POST /ocsp HTTP/1.1\r\nHost: x\r\n"
           b"Content-Type: application/ocsp-request\r\n"
           b"Content-Length: %d\r\n\r\n" % size)
    sent = 0
    chunk = b"\0" * 65536
    answer = b""
    try:
        while sent < size and time.time() < stop:
            s.send(chunk)
            sent += len(chunk)
    except OSError:
        pass  # closed on us after the answer: expected
    try:
        answer = s.recv(100)
    except OSError:
        pass
    if b" 413 " in answer.split(b"\r\n")[0]:
        refused.append(1)
    else:
        problems.append("oversized body answered %r" % answer[:40])
    s.close()


threads = [threading.Thread(target=f) for f in
           [idle] * 40 + [dribble] * 8 + [oversized] * 4]
for t in threads:
    t.start()
time.sleep(0.5)

worst = 0.0
answered = 0
while time.time() < stop - 0.5:
    t0 = time.time()
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    c.request("POST", "/ocsp/sign", body=request,
              headers={"Content-Type": "application/ocsp-request"})
    r = c.getresponse()
    body = r.read()
    c.close()
    took = time.time() - t0
    worst = max(worst, took)
    if r.status != 200 or len(body) < 100:
        problems.append("OCSP answered %d (%d bytes)" % (r.status, len(body)))
    answered += 1
    time.sleep(0.1)
for t in threads:
    t.join()
if len(refused) != 4:
    problems.append("%d of 4 oversized bodies got 413" % len(refused))
if worst > 0.5:
    problems.append("the slowest OCSP answer took %.3f s" % worst)
if answered < 20:
    problems.append("only %d OCSP answers in 9 s" % answered)
if problems:
    print("FAIL: " + "; ".join(problems))
    sys.exit(1)
print("ok - %d OCSP answers beside 40 idle, 8 one-byte-a-second and 4 "
      "oversized clients; slowest %.0f ms" % (answered, worst * 1000))
