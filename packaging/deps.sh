#!/bin/sh
# Install the Debian 12 packages rmail needs to build and test.
# As root: apt-get update + install what is missing. Otherwise: print the
# exact command and exit 2 when something is missing.
set -eu

PKGS="gcc make pkg-config libssl-dev libc-ares-dev libev-dev libjansson-dev
libcmocka-dev python3 openssl ca-certificates procps iproute2 swaks
libnet-ssleay-perl libio-socket-inet6-perl python3-imaplib2 isync mutt
python3-dkim dnsmasq-base python3-aiosmtpd clang-14 libclang-rt-14-dev systemd
adduser"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

cmd="apt-get install -y --no-install-recommends$missing"
if [ "$(id -u)" -ne 0 ]; then
	echo "rmail: missing packages:$missing" >&2
	echo "rmail: as root, run: apt-get update && $cmd" >&2
	exit 2
fi
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends $missing >/dev/null
