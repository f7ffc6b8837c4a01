#!/usr/bin/env bash
# A municipality's year (issue #13), table-driven: one resident and one
# Juki-card holder walked through dated rows with the injectable clock
# (--now, as JPKI_NOW): issue, expiry, a new issue after expiry, renewal at
# 3 months minus one day (refused) and at 3 months (accepted, with the
# identity check), the Juki holder switching to My Number (the Juki
# certificate revoked, reason recorded), a move (the signing certificate
# revoked by the registry's notice), a PIN reset, a loss report.
#
# Each row of a table is
#
#   DATE | OPERATOR | EXPECT | COMMAND [| SAVE]
#
#   DATE      YYYY-MM-DD (10:00 in Japan) or a full --now instant
#   OPERATOR  an operator (clerk1, reg1, admin: password pw-NAME-012345),
#             - for a command needing none, sh for a shell function below
#   EXPECT    ok | ok:TEXT (accepted, TEXT in its output) |
#             refused:TEXT (refused, TEXT in its message) |
#             wait:TEXT (accepted once TEXT shows, within 10 s: what a
#             running server does in the background)
#   COMMAND   jpki's arguments (or the shell function), after
#             ${VARIABLE} expansion: the people, applications and serials
#             saved by earlier rows
#   SAVE      VAR=json:EXPR (EXPR of the JSON output d) or
#             VAR=serial:sign|auth (the serial `window issue/renew` printed),
#             several separated by ';'
#
# Branch offices: a loss report at 神田出張所 and a PIN reset at 富士見出張所,
# by clerks of those offices (another OPERATOR). A CA key rollover in 2028
# (`ca rollover`, another COMMAND): the renewal and the new issue after it are
# under generation 2 (OCSP answers them under the new key, "unknown" under the
# old), the certificates of generation 1 still answer under the old key.
#
# usage: test_year.sh PATH/TO/jpki
set -euo pipefail

. "$(dirname "$(realpath "$0")")/lib.sh"
lib_init year "$1"
export JPKI_ARGON2_TEST=1
port=$(free_port)
url="http://127.0.0.1:$port"
world=""

fail_more() { serve_log_tail 8; }

# jpki in the current world (each table has its own data: a Juki card
# needs a CA of 2015, and a certificate never outlives its CA)
jw() { "$JPKI" --data "$work/$world" --log error "$@"; }

new_world() { # NAME DATE: a CA made on DATE and its staff
	world=$1
	jw --now "$2T01:00:00Z" ca init --public-url "$url" >/dev/null
	JPKI_NEW_OPERATOR_PASSWORD=pw-admin-012345 jw operator add admin \
		--role ca-officer >/dev/null
	for op in "reg1 registry-clerk" "clerk1 window-clerk"; do
		set -- $op
		JPKI_OPERATOR=admin JPKI_OPERATOR_PASSWORD=pw-admin-012345 \
			JPKI_NEW_OPERATOR_PASSWORD="pw-$1-012345" \
			jw operator add "$1" --role "$2" --municipality-code 131016 \
			>/dev/null
	done
}

# ---- shell functions the rows may call (OPERATOR sh) ------------------------

card() { # FILE KIND: a blank card, as the card maker delivers it
	jw card new --kind "$2" "$work/$1" >/dev/null && echo "card $1"
}

serve_from() { # DATE: `jpki serve` with its clock from DATE (it applies
	# the registry's notices to the CA as they come). A row runs in a
	# subshell, so its PID is kept in a file, not in $server_pid.
	stop_serving >/dev/null
	JPKI_NOW="$1T01:00:00Z" "$JPKI" --data "$work/$world" --log warn serve \
		--listen "127.0.0.1:$port" >>"$work/serve.log" 2>&1 &
	echo $! >"$work/serve.pid"
	wait_healthz "$url" || fail "jpki serve did not start"
	echo "serving"
}

stop_serving() { # the server serve_from started, by its PID
	local p n=0
	p=$(cat "$work/serve.pid" 2>/dev/null) || true
	if [ -n "$p" ]; then
		kill "$p" 2>/dev/null || true
		while kill -0 "$p" 2>/dev/null && [ $n -lt 100 ]; do
			sleep 0.1
			n=$((n + 1))
		done
		rm -f "$work/serve.pid"
	fi
	echo "stopped"
}

cleanup_more() { stop_serving >/dev/null; }

branch_clerk() { # NAME OFFICE: a window clerk at a branch office
	JPKI_OPERATOR=admin JPKI_OPERATOR_PASSWORD=pw-admin-012345 \
		JPKI_NEW_OPERATOR_PASSWORD="pw-$1-012345" \
		jw operator add "$1" --role window-clerk --municipality-code 131016 \
		--office "$2" >/dev/null && echo "clerk $1 at $2"
}

ca_certs() { # GEN: keep the CA certificates of the current generation GEN
	jw ca cert sign >"$work/$world-sign-$1.pem" &&
		jw ca cert auth >"$work/$world-auth-$1.pem" && echo "kept $1"
}

ocsp() { # TYPE GEN SERIAL: what the running server's OCSP responder says
	# of SERIAL asked under generation GEN of the CA of TYPE (the
	# server's clock is years from this machine's: times not checked)
	openssl ocsp -issuer "$work/$world-$1-$2.pem" -serial "0x$3" \
		-url "$url/ocsp/$1" -noverify -validity_period 999999999 2>&1
}

# ---- the table runner -------------------------------------------------------

trim() { local s=$1; s=${s#"${s%%[![:space:]]*}"}; echo "${s%"${s##*[![:space:]]}"}"; }

run_row() { # LINE
	local date who expect cmd save now out rc text
	IFS='|' read -r date who expect cmd save <<<"$1"
	date=$(trim "$date")
	who=$(trim "$who")
	expect=$(trim "$expect")
	cmd=$(trim "$cmd")
	save=$(trim "${save:-}")
	[[ $date == *T* ]] && now=$date || now="${date}T01:00:00Z"
	cmd=$(eval "echo \"$cmd\"")
	local tries=1
	[[ $expect == wait:* ]] && tries=100
	for _ in $(seq "$tries"); do
		rc=0
		case $who in
		sh) out=$(eval "$cmd" 2>&1) || rc=$? ;;
		-) out=$(eval "jw --now $now $cmd" 2>&1) || rc=$? ;;
		*) out=$(export JPKI_OPERATOR=$who \
			JPKI_OPERATOR_PASSWORD="pw-$who-012345"
			eval "jw --now $now $cmd" 2>&1) || rc=$? ;;
		esac
		[[ $expect == wait:* ]] || break
		[ "$rc" = 0 ] && [[ $out == *"${expect#wait:}"* ]] && break
		sleep 0.1
	done
	case $expect in
	ok) [ "$rc" = 0 ] || fail "$date $who $cmd: refused: $out" ;;
	ok:* | wait:*)
		text=${expect#*:}
		[ "$rc" = 0 ] || fail "$date $who $cmd: refused: $out"
		[[ $out == *"$text"* ]] || fail "$date $who $cmd: '$text' not in: $out" ;;
	refused:*)
		text=${expect#refused:}
		[ "$rc" != 0 ] || fail "$date $who $cmd: accepted, expected a refusal ($text): $out"
		[[ $out == *"$text"* ]] || fail "$date $who $cmd: refused, but not with '$text': $out" ;;
	*) fail "bad EXPECT '$expect'" ;;
	esac
	local one var
	IFS=';' read -ra saves <<<"$save"
	for one in ${saves[@]+"${saves[@]}"}; do
		one=$(trim "$one")
		var=${one%%=*}
		case $one in
		*=json:*)
			printf -v "$var" '%s' \
				"$(echo "$out" | json "${one#*=json:}")" ;;
		*=serial:sign)
			printf -v "$var" '%s' "$(echo "$out" |
				sed -n 's/.*signing certificate \([0-9A-F]*\) .*/\1/p' | head -1)" ;;
		*=serial:auth)
			printf -v "$var" '%s' "$(echo "$out" |
				sed -n 's/.*authentication certificate \([0-9A-F]*\) .*/\1/p' | head -1)" ;;
		*) fail "bad SAVE '$one'" ;;
		esac
		[ -n "${!var}" ] || fail "$date $cmd: nothing to save in $one: $out"
	done
	echo "ok - $date $who $expect"
}

run_table() { # NAME (rows on stdin)
	local line n=0
	while IFS= read -r line; do
		[[ -z $(trim "$line") || $line == \#* ]] && continue
		run_row "$line"
		n=$((n + 1))
	done
	pass "$1: $n rows"
}

# Addresses as the register and the photo IDs print them.
HOME1="千代田１番１号"
HOME2="千代田２番２号"
ADDR_J="千代田９番９号"
REG="--municipality-code 131016 --prefecture 東京都 --municipality 千代田区"

# ---- the Juki-card holder: 2015 to 2016 -------------------------------------
new_world juki 2015-11-30
run_table "the Juki-card holder switches to My Number" <<EOF
2015-12-01 | reg1   | ok | registry register $REG --name '佐藤 一郎' --sex male --birth 1970-01-15 --address '$ADDR_J' --json | J=json:d["person"]
# the Juki card itself: a card nobody applied for takes no certificate;
# applied for with an identity check, handed over, its fee recorded
2015-12-01 | sh     | ok | card blank.card juki
2015-12-01 | clerk1 | ok | window apply \$J --card-kind juki --id photo --photo-id driving-licence --photo-id-address '$ADDR_J' --json | appJ=json:d["id"]
2015-12-01 | clerk1 | refused:applied for and paid for first | window issue \$appJ --card $work/blank.card --sign-pin ABCD
2015-12-01 | clerk1 | ok | window juki-card-fee 131016 400
2015-12-01 | clerk1 | ok | window apply \$J --juki-card --id photo --photo-id driving-licence --photo-id-address '$ADDR_J' --json | appC=json:d["id"]
2015-12-01 | clerk1 | ok:fee: 400 yen | window juki-card \$appC --card $work/juki.card
2015-12-01 | clerk1 | ok:juki-card 400 yen | window fees 131016
2015-12-01 | clerk1 | ok | window issue \$appJ --card $work/juki.card --sign-pin ABCD | jukiSign=serial:sign
# 発行の日から起算して3年: the day before the third anniversary
2015-12-01 | -      | ok:2018-11-30T14:59:59Z | ca status \$jukiSign --json
# a second Juki certificate while this one is good: refused
2015-12-02 | clerk1 | ok | window apply \$J --card-kind juki --id photo --photo-id passport --photo-id-address '$ADDR_J' --json | appJ2=json:d["id"]
2015-12-02 | clerk1 | refused:already holds a valid | window issue \$appJ2 --card $work/juki.card --sign-pin ABCD
# after 2015-12-22 the Juki card is neither issued nor renewed
2015-12-24 | clerk1 | refused:22 December 2015 | window apply \$J --card-kind juki --id photo --photo-id passport --photo-id-address '$ADDR_J'
2018-10-01 | clerk1 | refused:22 December 2015 | window renew \$J --type sign --card $work/juki.card --id photo --photo-id passport --photo-id-address '$ADDR_J'
# the switch: the My Number card's signing certificate retires the Juki card
2016-03-01 | sh     | ok | card mn.card mynumber
2016-03-01 | clerk1 | ok | window apply \$J --id photo --photo-id mynumber-card --photo-id-address '$ADDR_J' --json | appM=json:d["id"]
2016-03-01 | clerk1 | ok | window issue \$appM --card $work/mn.card --auth-pin 1234 --sign-pin ABC123 | mnSign=serial:sign
2016-03-01 | -      | ok:"reason": "superseded" | ca status \$jukiSign --json
2016-03-01 | -      | ok:"status": "good" | ca status \$mnSign --json
EOF

# ---- the resident: 2026 to 2030 ---------------------------------------------
stop_serving >/dev/null
new_world city 2026-01-30
run_table "the resident's years" <<EOF
2026-02-02 | reg1   | ok | registry register $REG --name '山田 太郎' --sex male --birth 1980-06-06 --address '$HOME1' --json | A=json:d["person"]
2026-02-02 | sh     | ok | card a.card mynumber
2026-02-02 | clerk1 | ok | window office add 131016-kanda --municipality-code 131016 --name 神田出張所
2026-02-02 | clerk1 | ok | window office add 131016-fuji --municipality-code 131016 --name 富士見出張所
2026-02-02 | sh     | ok | branch_clerk kanda1 131016-kanda
2026-02-02 | sh     | ok | branch_clerk fuji1 131016-fuji
2026-02-02 | sh     | ok:kept 1 | ca_certs 1
# a photo ID the municipality does not list, and one whose address is old
2026-02-02 | clerk1 | refused:photo ID kind 'library card' is not accepted by 千代田区 | window apply \$A --id photo --photo-id 'library card' --photo-id-address '$HOME1'
2026-02-02 | clerk1 | refused:not the registered address | window apply \$A --id photo --photo-id driving-licence --photo-id-address '$HOME2'
2026-02-02 | clerk1 | refused:expired on 2026-01-31 | window apply \$A --id photo --photo-id passport --photo-id-expiry 2026-01-31 --photo-id-address '$HOME1'
# issue: both certificates, the signing one to the 5th birthday
2026-02-02 | clerk1 | ok | window apply \$A --id photo --photo-id driving-licence --photo-id-address '$HOME1' --json | app1=json:d["id"]
2026-02-02 | clerk1 | ok | window issue \$app1 --card $work/a.card --auth-pin 1234 --sign-pin ABC123 | sign1=serial:sign; auth1=serial:auth
2026-02-02 | -      | ok:2030-06-06T14:59:59Z | ca status \$sign1 --json
# a CA key rollover in the middle of it all: a window clerk cannot, the CA
# officer does; the cards already issued keep working
2028-01-11 | clerk1 | refused:cannot do the work of a CA officer | ca rollover --type both
2028-01-11 | admin  | ok:the sign CA rolled over to generation 2 | ca rollover --type both
2028-01-11 | sh     | ok:kept 2 | ca_certs 2
2028-01-11 | sh     | ok | serve_from 2028-01-11
2028-01-11 | sh     | ok:: good | ocsp sign 1 \$sign1
2028-01-11 | sh     | ok:: good | ocsp auth 1 \$auth1
2028-01-11 | sh     | ok:: unknown | ocsp sign 2 \$sign1
2028-01-11 | sh     | ok | stop_serving
2028-01-11 | -      | ok:"status": "good" | ca status \$auth1 --json
# renewal: from 2030-03-06 (3 calendar months before 2030-06-06)
2030-03-05 | clerk1 | refused:can be renewed from 2030-03-06 | window renew \$A --type sign --card $work/a.card --id photo --photo-id driving-licence --photo-id-address '$HOME1'
2030-03-06 | clerk1 | refused:no same-day renewal | window renew \$A --type sign --card $work/a.card --id letter
2030-03-06 | clerk1 | refused:a proxy never renews on the day | window renew \$A --type sign --card $work/a.card --id proxy
2030-03-06 | clerk1 | ok | window renew \$A --type sign --card $work/a.card --id photo --photo-id driving-licence --photo-id-address '$HOME1' | sign2=serial:sign
2030-03-06 | -      | ok:"reason": "superseded" | ca status \$sign1 --json
# the authentication certificate was left to expire: no renewal, a new issue
2030-06-07 | clerk1 | refused:apply for a new issue | window renew \$A --type auth --card $work/a.card --id photo --photo-id passport --photo-id-address '$HOME1'
2030-06-07 | clerk1 | ok | window apply \$A --auth --id photo --photo-id passport --photo-id-address '$HOME1' --json | app2=json:d["id"]
2030-06-07 | clerk1 | ok | window issue \$app2 --card $work/a.card --auth-pin 1234 | auth2=serial:auth
2030-06-07 | -      | ok:"status": "good" | ca status \$auth2 --json
# a move: the registry's notice revokes the signing certificate
2030-07-01 | sh     | ok | serve_from 2030-07-01
2030-07-01 | reg1   | ok | registry move \$A --address '$HOME2'
2030-07-01 | -      | wait:"reason": "affiliationChanged" | ca status \$sign2 --json
2030-07-01 | -      | ok:"status": "good" | ca status \$auth2 --json
# the renewal and the new issue were under generation 2; generation 1 answers
2030-07-01 | sh     | ok:: revoked | ocsp sign 2 \$sign2
2030-07-01 | sh     | ok:: unknown | ocsp sign 1 \$sign2
2030-07-01 | sh     | ok:: good | ocsp auth 2 \$auth2
2030-07-01 | sh     | ok:: unknown | ocsp auth 1 \$auth2
2030-07-01 | sh     | ok:: revoked | ocsp sign 1 \$sign1
2030-07-01 | sh     | ok | stop_serving
# a forgotten PIN, re-initialised at a branch (富士見) after a photo ID
2030-07-02 | fuji1  | refused:registered address | window pin-reset \$A --type auth --photo-id-address '$HOME1' --new-pin 5678 --card $work/a.card
2030-07-02 | fuji1  | ok | window pin-reset \$A --type auth --photo-id-address '$HOME2' --new-pin 5678 --card $work/a.card
# a loss report at another branch (神田): everything still valid revoked at once
2030-07-03 | kanda1 | ok:1 certificate revoked | window report \$A --lost
2030-07-03 | -      | ok:"reason": "keyCompromise" | ca status \$auth2 --json
EOF
echo "all year checks passed"
