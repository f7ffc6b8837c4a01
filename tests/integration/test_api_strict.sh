#!/usr/bin/env bash
# Strict input on every endpoint of the window's JSON API, from one table:
# for each endpoint each unknown field, each value of the wrong JSON type,
# each unknown word and each number out of range is answered 400 with
# {"error", "field"} naming the field, and changes nothing (every row of
# every table of the store, the audit chain included, is compared before and
# after). Then the CLI and the API refuse the same over-long prefecture and
# the same control characters in a name, and the words of the records are
# the same in both (sex, state, path).
#
# usage: test_api_strict.sh PATH/TO/jpki
set -euo pipefail

. "$(dirname "$(realpath "$0")")/lib.sh"
lib_init strict "$1"

export JPKI_NOW=2026-11-17T01:00:00Z
export JPKI_ARGON2_TEST=1
port=$(free_port)
url="http://127.0.0.1:$port"

ca_and_admin "$url"
add_operator reg1 registry-clerk 131016
add_operator win1 window-clerk 131016
add_operator aud1 auditor
serve_bg "$url" --listen "127.0.0.1:$port"

python3 - "$url" "$work/var/jpki.db" <<'EOF'
import json, sqlite3, sys, urllib.request, urllib.error

url, db = sys.argv[1], sys.argv[2]

def call(method, path, body=None, token=None, raw=None):
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    req = urllib.request.Request(url + path, data=data, method=method)
    if token:
        req.add_header("Authorization", "Bearer " + token)
    req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")

def login(op, pw):
    st, o = call("POST", "/api/login", {"operator": op, "password": pw})
    assert st == 200, (st, o)
    return o["token"]

def snapshot():
    # every row of every table, sessions aside (a log-in writes one)
    c = sqlite3.connect(db)
    out = {}
    for (t,) in c.execute("SELECT name FROM sqlite_master WHERE type='table'"):
        if "session" in t:
            continue
        out[t] = sorted(map(repr, c.execute(f'SELECT * FROM "{t}"')))
    c.close()
    return out

reg = login("reg1", "pw-reg1-012345")
win = login("win1", "pw-win1-012345")
resident = {"municipality_code": "131016", "prefecture": "東京都",
            "municipality": "千代田区", "name": "田中 一", "sex": "male",
            "birth": "1990-01-15", "address": "千代田５番５号"}
st, o = call("POST", "/api/registry/register", resident, reg)
assert st == 200, (st, o)
person = o["person"]
st, o = call("GET", "/api/residents/" + person, token=reg)
assert st == 200 and o["sex"] == "male" and o["status"] == "registered", o

# endpoint -> (token, a body whose fields are all acceptable, the fields'
# kinds: s string, b boolean, i integer, w word, d date)
P = person
table = {
    "/api/login": (None, {"operator": "reg1", "password": "x"},
                   {"operator": "s", "password": "s"}),
    "/api/logout": (win, {}, {}),
    "/api/registry/register": (reg, resident,
        {"municipality_code": "s", "prefecture": "s", "municipality": "s",
         "name": "s", "sex": "w", "birth": "d", "address": "s",
         "guardianship": "b", "name_subst": "s", "address_subst": "s"}),
    "/api/registry/move": (reg, {"person": P, "address": "千代田１番"},
        {"person": "s", "municipality_code": "s", "prefecture": "s",
         "municipality": "s", "address": "s"}),
    "/api/registry/name": (reg, {"person": P, "name": "田中 二"},
                           {"person": "s", "name": "s"}),
    "/api/registry/birth": (reg, {"person": P, "birth": "1990-01-16"},
                            {"person": "s", "birth": "d"}),
    "/api/registry/sex": (reg, {"person": P, "sex": "female"},
                          {"person": "s", "sex": "w"}),
    "/api/registry/guardianship": (reg, {"person": P, "on": True},
                                   {"person": "s", "on": "b"}),
    "/api/registry/death": (reg, {"person": P}, {"person": "s"}),
    "/api/registry/remove": (reg, {"person": P}, {"person": "s"}),
    "/api/window/apply": (win, {"person": P, "path": "photo"},
        {"person": "s", "card": "w", "sign": "b", "auth": "b", "path": "w",
         "photo_id": "s", "photo_id_address": "s", "power_of_attorney": "b",
         "seal_certificate": "b", "proxy_name": "s",
         "special_circumstance": "s", "for": "w", "photo_id_expiry": "s"}),
    "/api/window/returned": (win, {"id": 1, "code": "x"},
        {"id": "i", "code": "s", "document": "s"}),
    "/api/window/issue": (win, {"id": 1},
        {"id": "i", "reader": "s", "auth_pin": "s", "sign_pin": "s"}),
    "/api/window/renew": (win, {"person": P, "type": "sign"},
        {"person": "s", "type": "w", "reader": "s", "path": "w",
         "photo_id": "s", "photo_id_address": "s", "photo_id_expiry": "s",
         "application": "i"}),
    "/api/window/pin-reset": (win, {"person": P, "type": "auth", "new_pin": "1234"},
        {"person": "s", "type": "w", "reader": "s", "photo_id_address": "s",
         "new_pin": "s"}),
    "/api/window/capacity": (win, {"municipality_code": "131016", "per_day": 4},
        {"municipality_code": "s", "office": "s", "per_day": "i"}),
    "/api/window/hours": (win, {"municipality_code": "131016", "open_minute": 510,
                                "close_minute": 1035},
        {"municipality_code": "s", "office": "s", "open_minute": "i",
         "close_minute": "i"}),
    "/api/window/counters": (win, {"office": "131016", "counters": 2},
        {"office": "s", "counters": "i"}),
    "/api/window/office": (win, {"code": "131016-kanda", "name": "神田出張所"},
        {"code": "s", "name": "s", "issue": "b"}),
    "/api/window/report": (win, {"person": P, "kind": "lost"},
                           {"person": "s", "kind": "w"}),
}
wrong = {"s": [7, True, None, ["x"], {"a": 1}], "b": ["yes", 1, None],
         "i": ["ten", 1.5, True, None, "4294967297"],
         "w": [1, True, None, "nonsense", "x", ""],
         "d": [19900115, "1990-02-30", "yesterday"]}
# per_day "ten" was once "no limit", 2^32+1 once 1
wrong_int = {"per_day": [4294967297, -1], "open_minute": [4294967297 + 510, -1],
             "close_minute": [1441], "id": [0, -1],
             "counters": [0, 1001, 4294967297 + 2]}
wrong_word = {"sex": ["1", "4294967297", "Male"], "path": ["none", "foo"],
              "kind": ["nonsense", "LOST"], "card": ["x"], "type": ["bogus", "signing"]}

def refused(path, token, body, field):
    before = snapshot()
    st, o = call("POST", path, body, token)
    if st != 400 or o.get("field") != field or field not in o.get("error", ""):
        sys.exit(f"FAIL: {path} {json.dumps(body, ensure_ascii=False)}: "
                 f"{st} {o}, not 400 naming {field!r}")
    if snapshot() != before:
        sys.exit(f"FAIL: {path} {body}: the store changed")

n = 0
for path, (token, good, kinds) in table.items():
    body = dict(good, bogus=1)
    refused(path, token, body, "bogus"); n += 1
    for field, kind in kinds.items():
        for v in wrong[kind] + wrong_int.get(field, []) + wrong_word.get(field, []):
            body = dict(good)
            body[field] = v
            refused(path, token, body, field); n += 1
    # a required field left out
    for field in good:
        if path in ("/api/login",) or not good:
            continue
        body = dict(good)
        del body[field]
        before = snapshot()
        st, o = call("POST", path, body, token)
        if field in ("person", "path", "kind", "type", "id", "sex", "birth",
                     "name", "on", "new_pin", "per_day", "municipality_code",
                     "open_minute", "close_minute", "code", "office",
                     "counters"):
            assert st == 400 and o.get("field") == field, (path, field, st, o)
        assert snapshot() == before, (path, field)
        n += 1
print(f"ok - {n} refusals over {len(table)} endpoints: 400 naming the field, nothing changed")

# the route table's callers: another role's endpoint is 403 before its body
# is read; the auditor reads no letter codes
aud = login("aud1", "pw-aud1-012345")
for path, token in (("/api/registry/sex", win), ("/api/window/report", reg),
                    ("/api/window/apply", aud)):
    before = snapshot()
    st, o = call("POST", path, {"bogus": 1}, token)
    assert st == 403 and "may not call" in o["error"], (path, st, o)
    assert snapshot() == before
for path, token in (("/api/window/applications", aud),
                    ("/api/window/applications", reg),
                    ("/api/residents/" + P, aud)):
    st, o = call("GET", path, token=token)
    assert st == 403, (path, st, o)
st, o = call("GET", "/api/window/applications", token=win)
assert st == 200, (st, o)
st, o = call("GET", "/api/audit/verify", token=aud)
assert st == 200 and o["ok"], (st, o)
print("ok - another role's endpoint: 403 before the body is read; no letter codes for the registry or the auditor")

# a body that is no JSON object: 400, nothing changed
for path, (token, good, kinds) in table.items():
    before = snapshot()
    st, o = call("POST", path, None, token, raw=b'[1,2,3]')
    assert st == 400, (path, st, o)
    assert snapshot() == before
print("ok - a body that is not an object: 400 on every endpoint")

# and the good bodies still pass the codec (the procedure may refuse them
# for its own reasons, never with a field)
for path in ("/api/registry/guardianship", "/api/window/capacity",
             "/api/window/hours"):
    token, good, kinds = table[path]
    st, o = call("POST", path, good, token)
    assert st == 200, (path, st, o)
st, o = call("POST", "/api/window/apply", {"person": P, "path": "letter", "auth": True}, win)
assert st == 200 and o["state"] == "waiting-letter" and o["path"] == "letter", o
print("ok - the same fields with good values are taken")

# the same refusals as the CLI's (run by the shell below)
long_pref = "東" * 22
st, o = call("POST", "/api/registry/register", dict(resident, prefecture=long_pref), reg)
assert st == 400 and o["field"] == "prefecture", o
for bad in ("田中\n一", "田中\a一", "田中\u202e一"):
    before = snapshot()
    st, o = call("POST", "/api/registry/register", dict(resident, name=bad), reg)
    assert st == 400 and o["field"] == "name", (bad, o)
    st, o = call("POST", "/api/registry/name", {"person": P, "name": bad}, reg)
    assert st == 400 and o["field"] == "name", (bad, o)
    assert snapshot() == before
print("ok - the API refuses a 66-byte prefecture and newline, BEL, U+202E in a name")

# a number beyond 64 bits is no "not a JSON object": 400 naming the field
for path, raw, field in (
        ("/api/window/capacity",
         b'{"municipality_code":"131016","per_day":99999999999999999999999}',
         "per_day"),
        ("/api/window/hours",
         b'{"municipality_code":"131016", "open_minute" : 1e99999, "close_minute":1035}',
         "open_minute")):
    before = snapshot()
    st, o = call("POST", path, None, win, raw=raw)
    assert st == 400 and o.get("field") == field and field in o["error"], (path, st, o)
    assert snapshot() == before
st, o = call("POST", "/api/window/capacity", None, win, raw=b'{"per_day":[99999999999999999999999]}')
assert st == 400 and "64 bits" in o["error"], (st, o)
print("ok - an integer beyond 64 bits: 400 naming the field")

# the window's pages: a form field that is too long, badly %-escaped or
# carries a control character is refused with 400 naming it, never read
# as "" (the apply form's photo_id would be dropped, the person emptied)
import http.client, re, urllib.parse
host = url[len("http://"):]

def page(method, path, body=None, cookie=None, origin=True):
    c = http.client.HTTPConnection(host)
    h = {}
    if body is not None:
        h["Content-Type"] = "application/x-www-form-urlencoded"
    if cookie:
        h["Cookie"] = "jpki_session=" + cookie
    if origin:
        h["Origin"] = url
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    out = (r.status, r.getheader("Set-Cookie") or "", r.read().decode())
    c.close()
    return out

st, setc, _ = page("POST", "/window/login", "operator=win1&password=pw-win1-012345")
assert st == 303, (st, setc, _)
cookie = re.search(r"jpki_session=([^;]+)", setc).group(1)
# a resident of its own: P has an application already
st, o = call("POST", "/api/registry/register", dict(resident, name="田中 四"), reg)
assert st == 200, (st, o)
P = o["person"]
st, _, html = page("GET", "/window/resident?person=" + P, cookie=cookie)
assert st == 200, (st, html[-500:])
csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', html).group(1)
good = "person=%s&path=photo&auth=on&photo_id=driving-licence&photo_id_address=%s&csrf=%s" % (P, urllib.parse.quote(resident["address"]), csrf)
for body, field, why in (
        (good.replace("photo_id=driving-licence", "photo_id=" + "A" * 600), "photo_id", "longer than"),
        (good.replace("photo_id=driving-licence", "photo_id=driv%zzing-licence"), "photo_id", "%-escape"),
        (good.replace("photo_id=driving-licence", "photo_id=driv%0aing-licence"), "photo_id", "control character"),
        (good.replace("photo_id=driving-licence", "photo_id=driv%7fing-licence"), "photo_id", "control character"),
        (good.replace("person=" + P, "person=" + P + "%"), "person", "%-escape"),
        (good + "&path%zz=1", None, "name is malformed")):
    before = snapshot()
    st, _, html = page("POST", "/window/apply", body, cookie)
    assert st == 400, (body[:80], st)
    assert why in html, (body[:80], html[-400:])
    if field:
        assert "&quot;%s&quot;" % field in html, (field, html[-400:])
    assert snapshot() == before, body[:80]
# the log-in form too: an over-long operator is no empty one (no failure
# counted against anyone)
st, _, html = page("POST", "/window/login", "operator=" + "w" * 700 + "&password=x")
assert st == 400 and "&quot;operator&quot;" in html, (st, html[-300:])
before = snapshot()
st, _, html = page("POST", "/window/apply", good, cookie)
assert st == 303, (st, re.findall(r"<section class=\"refused\".*?</section>", html))
assert snapshot() != before
print("ok - the window's forms: a field too long, badly escaped or with a control character is 400 naming it and changes nothing; the good form is taken")
EOF

export JPKI_OPERATOR=reg1 JPKI_OPERATOR_PASSWORD=pw-reg1-012345
reg_cli() { # NAME PREFECTURE: the CLI's register, 0 when taken
	jpki registry register --municipality-code 131016 --prefecture "$2" \
		--municipality 千代田区 --name "$1" --sex male --birth 1990-01-15 \
		--address 千代田５番５号 >cli.out 2>&1
}
count() { sqlite3 "$work/var/jpki.db" 'SELECT count(*) FROM registry_resident'; }
before=$(count)
long_pref=$(python3 -c 'print("東" * 22)')
reg_cli "田中 一" "$long_pref" && fail "the CLI took a 66-byte prefecture"
grep -q "prefecture" cli.out || fail "the CLI's refusal does not name the prefecture: $(cat cli.out)"
for bad in $'田中\n一' $'田中\a一' $'田中\xe2\x80\xae一'; do
	reg_cli "$bad" 東京都 && fail "the CLI took a name with a control character"
	grep -q "control character" cli.out || fail "CLI: $(cat cli.out)"
done
[ "$(count)" = "$before" ] || fail "the CLI's refusals changed the register"
reg_cli "田中 三" 東京都 || fail "the CLI refused a good resident: $(cat cli.out)"
pass "the CLI refuses the same prefecture and the same names, and takes a good one"

# the CLI's --json speaks the API's words
p=$(jpki registry find --municipality-code 131016 --json |
	python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["sex"])')
[ "$p" = male ] || fail "CLI --json sex: $p"
pass "the CLI's --json: sex as a word"
echo "all strict-input checks passed"
