#!/usr/bin/env bash
# Installs the Debian packages OpenJPKI needs to build, test and run.
# Does nothing when they are all present; needs root (or sudo) otherwise.
set -euo pipefail

packages=(
	build-essential cmake pkg-config clang
	libssl-dev openssl
	libsqlite3-dev sqlite3
	libpq-dev postgresql
	libmicrohttpd-dev libgnutls28-dev
	libjansson-dev
	libicu-dev
	libjose-dev
	libcurl4-openssl-dev
	libargon2-dev
	libcairo2-dev fonts-ipafont-gothic poppler-utils libpng-dev
	libqpdf-dev qpdf
	chromium
	firefox-esr
	libcmocka-dev
	libpcsclite-dev pcscd vsmartcard-vpcd opensc
	libp11-kit-dev softhsm2
	curl python3 python3-cryptography wrk golang-cfssl stunnel4
)

missing=()
for p in "${packages[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
		grep -q "install ok installed"; then
		missing+=("$p")
	fi
done

sudo=""
if [ "$(id -u)" -ne 0 ]; then
	sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
if [ ${#missing[@]} -gt 0 ]; then
	echo "setup: installing ${missing[*]}"
	$sudo apt-get update -qq
	$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The browser tests drive Debian's chromium with puppeteer-core from npm.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	$sudo apt-get update -qq
	$sudo apt-get install -y -qq --no-install-recommends nodejs npm
fi
here=$(cd "$(dirname "$0")/.." && pwd)
if [ ! -d "$here/tests/browser/node_modules/puppeteer-core" ]; then
	echo "setup: npm install in tests/browser"
	# only the browser test needs it: `make run` goes on without
	(cd "$here/tests/browser" && npm install --no-audit --no-fund --loglevel=error) ||
		echo "setup: npm install failed; the browser test will say so" >&2
fi
