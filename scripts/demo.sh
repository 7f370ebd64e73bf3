#!/bin/sh
# make demo: smillactl against a throwaway DNSSEC test bed (NSD serving
# signed zones on loopback, libunbound validating with the bed's trust
# anchor).  Everything is made here and removed again on exit.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
ctl="$top/build/smillactl"
dir=$(mktemp -d /tmp/smilla-demo.XXXXXX)
chmod 755 "$dir"
trap '"$top/tests/bed/bed.sh" stop "$dir" >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT INT TERM

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() {
	printf '$ smillactl %s\n' "$*"
	"$ctl" -c "$dir/smilla.conf" "$@" || printf '(exit %s)\n' "$?"
}

say "Starting a DNSSEC test bed (NSD on loopback, zone smilla.test signed with ldns)"
"$top/tests/bed/bed.sh" start "$dir"
printf 'smilla.conf for the bed:\n'
sed 's/^/    /' "$dir/smilla.conf"

say "A sending MTA publishes its client key: _smtp-client.good.smilla.test"
show lookup tlsa good.smilla.test

say "Does its certificate authenticate it? (DANE-EE: names and dates ignored)"
show verify --cert "$dir/certs/good.pem" --name good.smilla.test

say "The same certificate claiming another identity"
show verify --cert "$dir/certs/good.pem" --name bad.smilla.test

say "A client anchored by its CA (DANE-TA, the chain must verify)"
show verify --cert "$dir/certs/ta.pem" --chain "$dir/certs/chain.pem" --name ta.smilla.test

say "What the admin pastes into the zone"
show gen tlsa --cert "$dir/certs/good.pem" --name good.smilla.test

say "Alice publishes her S/MIME certificate (SMIMEA, RFC 8162)"
show lookup smimea alice@smilla.test | cut -c1-160

say "Bob publishes his OpenPGP key (OPENPGPKEY, RFC 7929)"
show lookup openpgpkey bob@smilla.test | cut -c1-160

say "DNSSEC failures are never trusted"
show lookup tlsa host.bogus.smilla.test
show lookup tlsa host.insecure.smilla.test
show lookup tlsa nothere.smilla.test
printf '(an unresponsive server: bounded by dns_timeout)\n'
show lookup tlsa host.slow.smilla.test

say "Done: test bed stopped and removed"
