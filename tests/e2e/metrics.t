#!/bin/bash
# The milter's metrics_file under a real Postfix: milter "a" writes
# every second, "b" (clients from 127.0.0.2) has an hour's interval.
# Mail through a to alice (S/MIME), bob (OpenPGP), nobody (no key), a
# signed message to a local user, and one to sam of the zone that
# never answers; then a's file must parse (tests/lib/prom.pl, strict)
# and count exactly that traffic: messages per action, as many as its
# log has lines of each, encryption per format, the signature's
# result, recipients per key state, lookups and cache hits, the DNS
# timeouts.  One message through b: b must have written nothing until
# SIGTERM, and then count it.
set -eu
export LC_ALL=C
. "$(dirname "$0")/../lib/tap.sh"
require_bed
. "$(dirname "$0")/../lib/mta.sh"
. "$(dirname "$0")/../lib/prom.sh"
mta_setup mmetrics
pf="$work/pf"
MILTERS="a b"
declare -A mpid=()
trap mta_cleanup EXIT
# The signed message's To: and the milter's authserv_id (sign.sh).
# shellcheck disable=SC2034
RCPT=user@mx.smilla.test AUTHSERV=mx.smilla.test
. "$here/../lib/mail.sh"
. "$here/../lib/sign.sh"

: >"$work/a-require.tbl"
: >"$work/b-require.tbl"
milter_conf a "local_domains = mx.smilla.test" "dns_timeout = 2" \
	"metrics_file = $work/a.prom" "metrics_interval = 1"
milter_conf b "local_domains = mx.smilla.test" "dns_timeout = 2" \
	"metrics_file = $work/b.prom" "metrics_interval = 1h"
milters_start || { done_testing; exit 1; }
export PF_EXTRA_DOMAINS="smilla.test slow.smilla.test"
postfix_start || { done_testing; exit 1; }
total=0
m_() { echo "smilla_messages_total{action=\"$1\"}"; }

check "a: metrics file within the interval" prom_wait "$work/a.prom" "$(m_ encrypted)" 0
is "$(prom_sum smilla_)" 0 "  every count 0 before any mail"

note alice alice@smilla.test "To alice, S/MIME."
deliver alice alice@smilla.test 1 "alice"
encrypted_ok "$m" 1 aes256-cbc
note bob bob@smilla.test "To bob, OpenPGP."
deliver bob bob@smilla.test 1 "bob"
note nobody nobody@smilla.test "To nobody, no key."
deliver nobody nobody@smilla.test 1 "nobody"
part signed >"$work/msg/signed.part"
check "openssl cms -sign (alice)" cms_sign signed alice
assemble signed "Alice <alice@smilla.test>" smime
deliver signed user@mx.smilla.test 1 "signed by alice"
note sam sam@slow.smilla.test "To sam, whose zone never answers."
deliver sam sam@slow.smilla.test 1 "sam (DNS timeout)"
diag "$(grep -F ' rcpts=' "$work/a.log" | sed 's/.* rcpts=/rcpts=/')"

check "a: the file counts the 5 messages" prom_wait "$work/a.prom" smilla_dns_timeouts_total 2
check "  it parses (strict exposition format)" prom_read "$work/a.prom"
is "$(prom_sum smilla_messages_total)" 5 "  5 messages"
for a in encrypted plaintext untouched rejected tempfail; do
	n=$(grep -c " action=$a[ ]" "$work/a.log" || true)
	is "$(prom_value "$(m_ $a)")" "$n" "  $a: $n, as many as log lines"
done
is "$(prom_value "$(m_ encrypted)")" 2 "  encrypted: alice and bob"
is "$(prom_value 'smilla_encrypted_total{format="smime"}')" 1 "  1 S/MIME"
is "$(prom_value 'smilla_encrypted_total{format="openpgp"}')" 1 "  1 OpenPGP"
is "$(prom_value 'smilla_verified_total{result="pass"}')" 1 "  1 signature passed"
is "$(prom_sum smilla_verified_total)" 1 "  and no other checked"
is "$(prom_value 'smilla_recipients_total{state="secure"}')" 2 "  2 recipients with keys"
is "$(prom_value 'smilla_recipients_total{state="none"}')" 1 "  1 without (nobody)"
is "$(prom_value 'smilla_recipients_total{state="skipped"}')" 1 \
	"  1 not looked up (user: encrypt_inbound = no)"
is "$(prom_value 'smilla_recipients_total{state="temperror"}')" 1 "  1 temperror (sam)"
is "$(prom_value smilla_dns_timeouts_total)" 2 "  2 DNS timeouts (sam's SMIMEA and OPENPGPKEY)"
lookups=$(prom_value smilla_lookups_total)
hits=$(prom_value smilla_cache_hits_total)
# SMIMEA and OPENPGPKEY for alice, bob, nobody and sam; the signer's
# SMIMEA, which the cache has once its writer stored alice's.
is "$lookups" 9 "  9 lookups (2 per recipient looked up, 1 for the signer)"
check "  at most the signer's from the cache ($hits)" [ "$hits" -le 1 ]
is "$(prom_value smilla_errors_total)" 0 "  no local error"
note viab alice@smilla.test "To alice, through b."
deliver viab alice@smilla.test 1 "alice, through b" --local-interface 127.0.0.2
like "$(grep -F ' rcpts=' "$work/b.log")" ' action=encrypted ' "  b encrypted it"
check "b: nothing written before its hour" test ! -e "$work/b.prom"

mta_end "$total"
check "b: written at SIGTERM" prom_read "$work/b.prom"
is "$(prom_sum smilla_messages_total)" 1 "  1 message"
is "$(prom_value "$(m_ encrypted)")" 1 "  encrypted"
check "a: still parses after its last write" prom_read "$work/a.prom"
is "$(prom_sum smilla_messages_total)" 5 "  5 messages"
is "$(find "$work" -maxdepth 1 -name '*.tmp' | wc -l)" 0 "no FILE.tmp left"
# The store's view (smillactl metrics): a delivery row per recipient of
# each message, by action, as many as a counted (one recipient each).
"$SMILLA_BUILD/smillactl" -c "$work/a.conf" metrics > "$work/ctl.prom"
check "smillactl metrics of a's store: parses" prom_read "$work/ctl.prom"
is "$(prom_sum smilla_store_deliveries)" 5 "  5 deliveries"
for a in encrypted plaintext untouched; do
	is "$(prom_value "smilla_store_deliveries{action=\"$a\"}")" "$(grep -c " rcpts=[^ ]* action=$a " "$work/a.log" || true)" \
		"  $a: as many as a's log lines"
done
nothing_left "milter, Postfix"
trap - EXIT
done_testing
