#!/usr/bin/env python3
"""Connection limits of `jpki serve`, from several loopback addresses.

The server runs with --max-connections 64 --per-address 16
--header-timeout 3 --body-timeout 3 and an OCSP listener of its own.

  1. one address holds its 16 connections, trickling a byte every 0.2 s:
     its 17th is closed at once, while another address is still answered;
  2. four addresses hold 16 each (the whole main listener) and keep
     reconnecting as they are cut: a fifth address cannot connect to the
     main listener, but OCSP on the OCSP listener answers every question
     in well under a second;
  3. a request whose headers, or whose body, trickle is cut at its deadline
     (3 s), though each byte comes long before the idle timeout (10 s);
     beside it, a slow request within its deadline is answered;
  4. the OCSP listener answers OCSP only.

usage: conn_limits.py PORT OCSP_PORT OCSP_REQUEST_DER  (bounded: ~40 s)
"""
import http.client
import socket
import sys
import threading
import time

port, ocsp_port = int(sys.argv[1]), int(sys.argv[2])
request = open(sys.argv[3], "rb").read()
problems = []
PER_ADDRESS, TOTAL, DEADLINE = 16, 64, 3.0


def connect(src, to_port=None):
    return socket.create_connection(("127.0.0.1", to_port or port),
                                    timeout=5, source_address=(src, 0))


def closed_within(s, seconds):
    """True when the server closes s (EOF or reset) within seconds; a 503
    it sends first is read past."""
    s.settimeout(seconds)
    end = time.time() + seconds
    try:
        while time.time() < end:
            if s.recv(4096) == b"":
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False
    return False


def get(src, path, to_port=None):
    s = connect(src, to_port)
    s.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
              % path.encode())
    s.settimeout(5)
    data = b""
    try:
        while True:
            got = s.recv(65536)
            if not got:
                break
            data += got
    except OSError:
        pass
    s.close()
    line = data.split(b"\r\n", 1)[0]
    return int(line.split()[1]) if line.startswith(b"HTTP/1.1 ") else 0


def ocsp(src):
    t0 = time.time()
    c = http.client.HTTPConnection("127.0.0.1", ocsp_port, timeout=5,
                                   source_address=(src, 0))
    c.request("POST", "/ocsp/sign", body=request,
              headers={"Content-Type": "application/ocsp-request"})
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, len(body), time.time() - t0


class Holder:
    """Holds `n` connections from `src`, each trickling a request's
    headers a byte every 0.2 s; reconnects whatever the server closes,
    until stop()."""

    def __init__(self, src, n):
        self.src, self.stopped = src, False
        self.threads = [threading.Thread(target=self.hold) for _ in range(n)]
        for t in self.threads:
            t.start()

    def hold(self):
        while not self.stopped:
            try:
                s = connect(self.src)
                for b in b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + \
                        b"a" * 1000:
                    if self.stopped:
                        break
                    s.send(bytes([b]))
                    time.sleep(0.2)
                s.close()
            except OSError:
                time.sleep(0.05)  # closed on us: come back at once

    def stop(self):
        self.stopped = True
        for t in self.threads:
            t.join()


# 1. the per-address limit
h = Holder("127.0.0.2", PER_ADDRESS)
time.sleep(1.0)
extra = connect("127.0.0.2")
if not closed_within(extra, 1.0):
    problems.append("a 17th connection from 127.0.0.2 was kept")
extra.close()
if get("127.0.0.3", "/healthz") != 200:
    problems.append("127.0.0.3 was not answered beside 127.0.0.2's 16")

# 2. the whole main listener held; OCSP on its own listener
holders = [h] + [Holder("127.0.0.%d" % i, PER_ADDRESS) for i in (3, 4, 5)]
time.sleep(1.0)
probe = connect("127.0.0.6")
if not closed_within(probe, 1.0):
    problems.append("a connection beyond the 64 held was kept")
probe.close()
worst, answered = 0.0, 0
end = time.time() + 2 * DEADLINE + 1  # through cuts and reconnections
while time.time() < end:
    try:
        status, n, took = ocsp("127.0.0.6")
    except OSError as e:
        problems.append("OCSP failed while the main listener was held: %s"
                        % e)
        break
    worst = max(worst, took)
    answered += 1
    if status != 200 or n < 100:
        problems.append("OCSP answered %d (%d bytes)" % (status, n))
        break
    time.sleep(0.05)
for x in holders:
    x.stop()
if worst > 0.5:
    problems.append("the slowest OCSP answer took %.3f s" % worst)
if answered < 20:
    problems.append("only %d OCSP answers in 7 s" % answered)


# 3. deadlines a trickle cannot extend
def trickle(head, then=b""):
    """Sends head (all of it at once when then is given, else a byte every
    0.2 s), then `then` a byte every 0.2 s; seconds until closed."""
    s = connect("127.0.0.7")
    t0 = time.time()
    s.settimeout(0.2)
    slow = then if then else head
    if then:
        s.sendall(head)
    try:
        for b in slow * 10:
            s.send(bytes([b]))
            try:
                if s.recv(4096) == b"":
                    break
            except socket.timeout:
                pass
    except OSError:
        pass
    took = time.time() - t0
    s.close()
    return took


took = trickle(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 200)
if not DEADLINE - 0.5 <= took <= DEADLINE + 1.5:
    problems.append("trickled headers were cut after %.1f s, not at the "
                    "%.0f s deadline" % (took, DEADLINE))
took = trickle(b"POST /ocsp HTTP/1.1\r\nHost: x\r\n"
               b"Content-Type: application/ocsp-request\r\n"
               b"Content-Length: 1000\r\n\r\n", b"\x30" * 100)
if not DEADLINE - 0.5 <= took <= DEADLINE + 1.5:
    problems.append("a trickled body was cut after %.1f s, not at the "
                    "%.0f s deadline" % (took, DEADLINE))
# beside it: headers in pieces over 2 s, within the deadline, answered
s = connect("127.0.0.7")
for part in (b"GET /healthz HTTP/1.1\r\n", b"Host: x\r\n",
             b"Connection: close\r\n", b"\r\n"):
    s.sendall(part)
    time.sleep(0.6)
s.settimeout(5)
if not s.recv(100).startswith(b"HTTP/1.1 200 "):
    problems.append("a slow request within its deadline was not answered")
s.close()

# 4. the OCSP listener is OCSP's
if get("127.0.0.8", "/ca/sign.pem", ocsp_port) != 404:
    problems.append("the OCSP listener answered /ca/sign.pem")
if get("127.0.0.8", "/ca/sign.pem") != 200:
    problems.append("the main listener did not answer /ca/sign.pem")

if problems:
    print("FAIL: " + "; ".join(problems))
    sys.exit(1)
print("ok - per-address limit, %d OCSP answers on the OCSP listener while "
      "4 addresses held all 64 connections (slowest %.0f ms), trickles cut "
      "at their %.0f s deadline" % (answered, worst * 1000, DEADLINE))
