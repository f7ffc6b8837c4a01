#!/usr/bin/env bash
# The portal site's contents on the repository's page (seeds 000, 001):
# the client software built by the project (scripts/dist.sh) offered with a
# SHA-256 that matches the file served, the readers known to work (the
# virtual reader and the CCID driver's list), the agencies' procedures and
# the operator's notices, newest first; a malformed notice line and names
# outside the download directory are not served.
#
# usage: test_portal_site.sh PATH/TO/jpki
set -euo pipefail

here=$(dirname "$(realpath "$0")")
root=$(realpath "$here/../..")
. "$here/lib.sh"
lib_init portal_site "$1"

fail_more() { serve_log_tail 5; }

port=$(free_port)
url="http://127.0.0.1:$port"
jpki ca init --public-url "$url" >/dev/null

# before anything is published: the page says so
"$JPKI" --data "$work/var" --log warn serve --listen "127.0.0.1:$port" --roles repository >serve.log 2>&1 &
server_pid=$!
wait_healthz "$url" 200 || fail "the server did not start"
curl -s "$url/" >index0.html
grep -q "No downloads are offered yet" index0.html && grep -q "No notices" index0.html ||
	fail "an empty portal: $(cat index0.html)"
stop_server
pass "nothing published: the page says no downloads, no notices"

tarball=$(bash "$root/scripts/dist.sh" "$JPKI" var/portal/download)
name=$(basename "$tarball")
cat >var/portal/notices <<'N'
# the operator's notices: YYYY-MM-DD text
2026-11-01 確定申告期は窓口が混雑します (the window is busy in tax season)
2026-12-01 利用者クライアントソフト 0.1.0 を公開しました <b>new</b>
not a notice line
2026-13-40 a date that does not exist
N
echo secret >var/portal/download/.hidden

"$JPKI" --data "$work/var" --log warn serve --listen "127.0.0.1:$port" --roles repository >serve.log 2>&1 &
server_pid=$!
wait_healthz "$url" 200 || fail "the server did not start"
curl -s "$url/" >index.html
shown=$(grep -o "<a href=\"/download/$name\">$name</a> ([0-9]* bytes) SHA-256: <code class=\"sha256\">[0-9a-f]*</code>" index.html |
	sed 's/.*<code class="sha256">\([0-9a-f]*\)<.*/\1/')
[ -n "$shown" ] || fail "the download is not listed with a checksum: $(grep -o '<ul id="downloads">.*</ul>' index.html | head -c 600)"
curl -s -o got.tar.gz "$url/download/$name"
cmp -s got.tar.gz "$tarball" || fail "the file served is not the tarball"
[ "$(sha256sum got.tar.gz | cut -d' ' -f1)" = "$shown" ] || fail "the checksum shown ($shown) is not the file's"
grep -q "$shown  $name" "$tarball.sha256" || fail "dist.sh's .sha256 differs from the page"
tar xzf got.tar.gz && "./${name%.tar.gz}/bin/jpki" --help >/dev/null 2>&1 ||
	fail "the downloaded jpki does not run"
pass "the client software $name: listed with its SHA-256, which matches the file served; the jpki in it runs"

grep -q '<li>Virtual PCD (vsmartcard-vpcd)</li>' index.html || fail "no virtual reader"
grep -q '<li>ACS ACR 38U-CCID</li>' index.html || fail "no CCID reader"
[ "$(grep -o '<ul id="reader-list">.*</ul>' index.html | grep -o '<li>' | wc -l)" -gt 400 ] ||
	fail "the readers' list is short"
grep -q 'e-Tax' index.html && grep -q 'コンビニ交付' index.html && grep -q '自動車保有関係手続' index.html ||
	fail "the procedures are missing"
pass "the readers (the virtual one and the CCID driver's) and the agencies' procedures are listed"

notes=$(grep -o '<ul id="notice-list">.*</ul>' index.html | head -1)
first=$(echo "$notes" | grep -o '<time datetime="[0-9-]*">' | head -1)
[ "$first" = '<time datetime="2026-12-01">' ] || fail "not newest first: $notes"
echo "$notes" | grep -q '2026-11-01' || fail "the older notice is missing"
echo "$notes" | grep -q '&lt;b&gt;new&lt;/b&gt;' || fail "a notice's text is not escaped: $notes"
echo "$notes" | grep -qE 'not a notice|2026-13-40' && fail "a malformed notice line is shown: $notes"
pass "the notices with their dates, newest first, escaped; malformed lines left out"

for bad in ../jpki.db .hidden ..%2Fjpki.db nothing.tar.gz "%2E%2E%2Fnotices"; do
	code=$(curl -s -o /dev/null -w '%{http_code}' "$url/download/$bad")
	[ "$code" = 404 ] || fail "/download/$bad: HTTP $code"
done
code=$(curl -s -o /dev/null -w '%{http_code}' --path-as-is "$url/download/../jpki.db")
[ "$code" = 404 ] || fail "/download/../jpki.db as is: HTTP $code"
stop_server
pass "names outside the download directory, hidden or missing: 404"
echo "all portal site checks passed"
