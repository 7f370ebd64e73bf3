#!/bin/sh
# Install the Debian 12 packages smilla needs to build, test and demo.
# Sendmail is not among them: sendmail-bin conflicts with postfix, so
# tests/lib/sendmail.sh fetches sendmail-bin and sendmail-cf with
# "apt-get download" and unpacks them privately; m4 (to build its
# sendmail.cf) and libwrap0 (a library sendmail-bin links) are here.
# chromium: tests/dnssec/report.t opens the HTML report in it, headless.
# Idempotent: packages already installed are skipped, apt is not touched
# at all when nothing is missing.  Needs root (or sudo) when it installs.
set -eu

PKGS="
build-essential pkg-config perl
libunbound-dev libevent-dev libssl-dev libsqlite3-dev libidn2-dev librnp-dev
openssl sqlite3 dns-root-data
nsd ldnsutils gnupg
valgrind groff-base clang libclang-rt-14-dev
postfix swaks libnet-ssleay-perl
libmilter-dev miltertest gpgsm
m4 libwrap0
chromium
"

missing=""
for p in $PKGS; do
	st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$st" = "installed" ] || missing="$missing $p"
done

if [ -z "$missing" ]; then
	echo "deps: all packages present"
	exit 0
fi

echo "deps: installing:$missing"
SUDO=""
if [ "$(id -u)" != 0 ]; then
	command -v sudo >/dev/null 2>&1 || {
		echo "deps: need root to install:$missing" >&2
		exit 1
	}
	SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
# Postfix: no system mail setup; tests run their own throwaway instances.
echo "postfix postfix/main_mailer_type select No configuration" |
	$SUDO debconf-set-selections
# A package index that predates the image can miss current versions.
$SUDO apt-get update -qq
# policy-rc.d keeps apt from starting daemons (nsd) we only run by hand.
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
	$SUDO chmod 755 /usr/sbin/policy-rc.d
	trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
fi
$SUDO apt-get install -y -qq --no-install-recommends $missing
