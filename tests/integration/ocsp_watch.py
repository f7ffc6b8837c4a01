#!/usr/bin/env python3
"""Watches OCSP responders while a revocation happens.

usage: ocsp_watch.py REQ.DER SECONDS_AFTER CLIENTS_PER_URL URL... -- COMMAND...

Every URL gets CLIENTS_PER_URL threads, each POSTing REQ.DER over one kept-
alive connection as fast as it is answered, and recording (time, status,
reason, how long it took) of every answer. Once each has answered 20
times, COMMAND (the revocation) is run; SECONDS_AFTER seconds after every
URL has answered "revoked" the watch stops. Prints, per URL, the answers
counted and the delay from COMMAND's return to its first "revoked" answer
(0 when it came before the return: the commit is before the process
exits), and one JSON line last:
{"delay_ms": worst delay after the return, "good_to_revoked_ms": widest
gap between a URL's last "good" and first "revoked" (which brackets the
commit), "monotonic": ..., "reasons": [...], "command_ms": ...}.
Exit status 1 if any URL answered "good" to a request sent after it had
answered "revoked" (to any of its clients), or "good" never before COMMAND
ran, or did not answer "revoked" in 10 s.
"""
import http.client
import json
import subprocess
import sys
import threading
import time
import urllib.parse

from cryptography.x509 import ocsp

WARM_UP = 20


def client(url, body, log, stop, failures):
    u = urllib.parse.urlsplit(url)
    conn = None
    while not stop.is_set():
        try:
            if conn is None:
                conn = http.client.HTTPConnection(u.hostname, u.port,
                                                  timeout=5)
            sent = time.monotonic()
            conn.request("POST", u.path or "/", body,
                         {"Content-Type": "application/ocsp-request"})
            resp = conn.getresponse()
            der = resp.read()
            t = time.monotonic()
            if resp.status != 200:
                failures.append("%s: HTTP %d" % (url, resp.status))
                continue
            r = ocsp.load_der_ocsp_response(der)
            status = r.certificate_status.name.lower()
            reason = None
            if status == "revoked" and r.revocation_reason is not None:
                reason = r.revocation_reason.name
            log.append((t, status, reason, t - sent))
        except (OSError, http.client.HTTPException) as e:
            failures.append("%s: %s" % (url, e))
            conn = None
            time.sleep(0.01)


def main():
    sep = sys.argv.index("--")
    req, after, per_url = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
    urls, command = sys.argv[4:sep], sys.argv[sep + 1:]
    body = open(req, "rb").read()
    stop = threading.Event()
    logs = {u: [] for u in urls}
    failures = []
    threads = [threading.Thread(target=client,
                                args=(u, body, logs[u], stop, failures))
               for u in urls for _ in range(per_url)]
    for t in threads:
        t.start()
    ok = True
    deadline = time.monotonic() + 10
    # "good" from every one first, a few times over
    while any(len(logs[u]) < WARM_UP for u in urls) and \
            time.monotonic() < deadline:
        time.sleep(0.01)
    started = time.monotonic()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    returned = time.monotonic()

    def first_revoked(u):
        for t, s, _, _ in list(logs[u]):
            if s == "revoked":
                return t
        return None

    deadline = returned + 10
    while time.monotonic() < deadline and \
            any(first_revoked(u) is None for u in urls):
        time.sleep(0.005)
    time.sleep(after)
    stop.set()
    for t in threads:
        t.join()

    worst, gap, monotonic, reasons = 0.0, 0.0, True, set()
    for u in urls:
        log = sorted(logs[u])
        fr = first_revoked(u)
        before = [s for t, s, _, _ in log if t < started]
        if not before or any(s != "good" for s in before):
            print("%s: not good before the command" % u)
            ok = False
        if fr is None:
            print("%s: never answered revoked" % u)
            ok = False
            continue
        # A request sent after some client received "revoked" must not
        # be answered "good". One sent before may still be (it read the
        # row before the commit, and its answer can arrive after another
        # client's "revoked"): that is order, not staleness.
        late_good = [t for t, s, _, w in log
                     if t - w > fr and s != "revoked"]
        overlap = len([t for t, s, _, w in log
                       if t > fr and t - w <= fr and s != "revoked"])
        if late_good:
            print("%s: %d requests sent after a revoked answer answered "
                  "otherwise" % (u, len(late_good)))
            monotonic = ok = False
        reasons |= {r for t, s, r, _ in log if s == "revoked"}
        slowest = max(w for _, _, _, w in log) * 1000
        delay = max(0.0, fr - returned) * 1000
        worst = max(worst, delay)
        # the commit lies between the last "good" and the first "revoked"
        last_good = max([t for t, s, _, _ in log
                         if t < fr and s == "good"] or [started])
        gap = max(gap, (fr - last_good) * 1000)
        print("%s: %d answers (%d before the command); last good %.1f ms, "
              "first revoked %.1f ms into the command's %.1f ms; %.1f ms "
              "after it returned; slowest answer %.1f ms; %d good answers "
              "in flight across the first revoked"
              % (u, len(log), len(before), (last_good - started) * 1000,
                 (fr - started) * 1000, (returned - started) * 1000, delay,
                 slowest, overlap))
    if failures:
        print("%d failed requests, first: %s" % (len(failures), failures[0]))
        ok = False
    print(json.dumps({"delay_ms": round(worst, 1),
                      "good_to_revoked_ms": round(gap, 1),
                      "monotonic": monotonic,
                      "reasons": sorted(str(r) for r in reasons),
                      "command_ms": round((returned - started) * 1000, 1)}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
