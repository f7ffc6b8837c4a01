#!/usr/bin/env python3
"""Asks OCSP responders without pause and logs every answer.

usage: ocsp_log.py REQ.DER STOP_FILE CLIENTS_PER_URL URL...

Each URL gets CLIENTS_PER_URL threads, each POSTing REQ.DER over one kept-
alive connection as fast as it is answered, until STOP_FILE exists. One
JSON line per answer on stdout, in the order received:
{"url": index, "sent": wall time, "recv": wall time, "answer": A}
where A is "good", "revoked:REASON" (REASON as cryptography names it, or
"none"), "unknown", "tryLater" (or another unsigned status by name),
"http-NNN" or "error: ...". Wall times (time.time()), so that a shell
script can compare them with `date +%s.%N` taken around its own steps.
"""
import http.client
import json
import os
import sys
import threading
import time
import urllib.parse

from cryptography.x509 import ocsp


def answer_of(der):
    r = ocsp.load_der_ocsp_response(der)
    if r.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
        name = r.response_status.name
        return "tryLater" if name == "TRY_LATER" else name
    status = r.certificate_status.name.lower()
    if status == "revoked":
        reason = r.revocation_reason
        return "revoked:" + (reason.name if reason is not None else "none")
    return status


def client(index, url, body, stop_file, lock):
    u = urllib.parse.urlsplit(url)
    conn = None
    while not os.path.exists(stop_file):
        sent = time.time()
        try:
            if conn is None:
                conn = http.client.HTTPConnection(u.hostname, u.port,
                                                  timeout=5)
            conn.request("POST", u.path or "/", body,
                         {"Content-Type": "application/ocsp-request"})
            resp = conn.getresponse()
            der = resp.read()
            a = answer_of(der) if resp.status == 200 else \
                "http-%d" % resp.status
        except (OSError, http.client.HTTPException, ValueError) as e:
            a = "error: %s" % e
            conn = None
            time.sleep(0.01)
        line = json.dumps({"url": index, "sent": sent, "recv": time.time(),
                           "answer": a})
        with lock:
            print(line, flush=True)


def main():
    req, stop_file, per_url = sys.argv[1], sys.argv[2], int(sys.argv[3])
    body = open(req, "rb").read()
    lock = threading.Lock()
    threads = [threading.Thread(target=client,
                                args=(i, u, body, stop_file, lock))
               for i, u in enumerate(sys.argv[4:]) for _ in range(per_url)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


if __name__ == "__main__":
    main()
