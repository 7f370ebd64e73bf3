#!/bin/sh
# make demo: smillactl against a throwaway DNSSEC test bed (NSD serving
# signed zones on loopback, libunbound validating with the bed's trust
# anchor).  Everything is made here and removed again on exit.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
ctl="$top/build/smillactl"
dir=$(mktemp -d /tmp/smilla-demo.XXXXXX)
chmod 755 "$dir"
pf_sh="$top/tests/e2e/postfix.sh"
pd_pid=""
ml_pid=""
cleanup() {
	"$pf_sh" stop "$dir/pf" >/dev/null 2>&1 || true
	"$pf_sh" stop "$dir/pfm" >/dev/null 2>&1 || true
	[ -n "$pd_pid" ] && kill "$pd_pid" 2>/dev/null || true
	[ -n "$ml_pid" ] && kill "$ml_pid" 2>/dev/null || true
	[ -d "$dir/gnupg-bob" ] && GNUPGHOME="$dir/gnupg-bob" gpgconf --kill all 2>/dev/null || true
	"$top/tests/bed/bed.sh" stop "$dir" >/dev/null 2>&1 || true
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM

# Up to 5 s for a daemon's socket to appear.
wait_socket() {
	i=0
	while [ ! -S "$1" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
}
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

say "smilla-policyd behind a real Postfix (throwaway instance, TLS, client certificates asked for)"
{
	cat "$dir/smilla.conf"
	echo "authserv_id = mx.smilla.test"
	echo "listen = unix:$dir/policyd.sock"
	echo "socket_mode = 0666"
	echo "require_table = $dir/require.tbl"
} > "$dir/policyd.conf"
echo bad.smilla.test > "$dir/require.tbl"
tail -4 "$dir/policyd.conf" | sed 's/^/    /'
"$top/build/smilla-policyd" -c "$dir/policyd.conf" 2> "$dir/policyd.log" &
pd_pid=$!
wait_socket "$dir/policyd.sock"
"$pf_sh" start "$dir/pf" "unix:$dir/policyd.sock" >/dev/null
. "$dir/pf/postfix.env"
printf 'Postfix on 127.0.0.1:%s with smtpd_tls_ask_ccert = yes and\ncheck_policy_service unix:%s\n' \
	"$PF_PORT" "$dir/policyd.sock"

say "swaks as good.smilla.test, presenting its certificate"
"$pf_sh" send "$dir/pf" --ehlo good.smilla.test \
	--tls-cert "$dir/certs/good.pem" --tls-key "$dir/certs/good.key" \
	--header "Subject: DANE demo" | grep -E '^(=== TLS started|<~  250 2\.0\.0 Ok)' || true
m=$("$pf_sh" wait-mail "$dir/pf" 1)
echo "The delivered message's header:"
sed -n '1,/^$/p' "$m" | grep -E '^(DANE-Client-Auth|Subject):' | sed 's/^/    /'

say "swaks claiming bad.smilla.test (listed in require_table) with the same certificate"
"$pf_sh" send "$dir/pf" --ehlo bad.smilla.test \
	--tls-cert "$dir/certs/good.pem" --tls-key "$dir/certs/good.key" | grep -E '5\.7\.1' || true

say "One log line per decision (smilla-policyd)"
grep ' result=' "$dir/policyd.log" | sed 's/^smilla-policyd: info: /    /' | cut -c1-160
"$pf_sh" stop "$dir/pf" >/dev/null
kill "$pd_pid"
wait "$pd_pid" || true
pd_pid=""

say "smilla, the milter, behind a real Postfix: mail to alice@smilla.test"
{
	cat "$dir/smilla.conf"
	echo "authserv_id = mx.smilla.test"
	echo "milter_socket = unix:$dir/smilla.sock"
	echo "socket_mode = 0666"
} > "$dir/milter.conf"
tail -3 "$dir/milter.conf" | sed 's/^/    /'
"$top/build/smilla" -f -c "$dir/milter.conf" 2> "$dir/milter.log" &
ml_pid=$!
wait_socket "$dir/smilla.sock"
PF_EXTRA_DOMAINS=smilla.test PF_MAIN_EXTRA="smtpd_milters = unix:$dir/smilla.sock
milter_default_action = tempfail" "$pf_sh" start "$dir/pfm" none >/dev/null
. "$dir/pfm/postfix.env"
printf 'Postfix on 127.0.0.1:%s with smtpd_milters = unix:%s
' "$PF_PORT" \
	"$dir/smilla.sock"
# mail_shown NAME TO SUBJECT LINES N: mail with the MIME entity
# $dir/entity-NAME to TO through the milter's Postfix, the Nth message
# in its Maildir; show the delivered copy's header and the first LINES
# lines of its body.  Its path in $m.
mail_shown() {
	# swaks ends the data with CRLF . CRLF itself: no final CRLF in the file.
	{ printf 'From: sender@client.test\r\nTo: %s\r\nSubject: %s\r\n' "$2" "$3"
	  head -c -2 "$dir/entity-$1"; } > "$dir/msg-$1"
	"$pf_sh" send "$dir/pfm" --to "$2" --data "@$dir/msg-$1" |
		grep -E '<~  250 2\.0\.0 Ok' || true
	"$pf_sh" wait-mail "$dir/pfm" "$5" >/dev/null || true
	m=$(grep -l "^Subject: $3" "$PF_MAILDIR"/new/* | head -n1)
	echo "The delivered message (header, start of the body):"
	sed -n '1,/^\r\{0,1\}$/p' "$m" | grep -E '^(Subject|MIME-Version|Content-[A-Za-z-]+|X-Smilla):' |
		sed 's/^/    /'
	sed -n '/^\r\{0,1\}$/,$p' "$m" | sed -n "2,$(($4 + 1))p" | cut -c1-64 | sed 's/^/    /'
}
# opened NAME: show $dir/decrypted-NAME; is it the entity sent?
opened() {
	sed 's/^/    /' "$dir/decrypted-$1"
	if cmp -s "$dir/decrypted-$1" "$dir/entity-$1"; then
		echo "byte for byte the MIME entity that was sent"
	else
		echo "DIFFERS from what was sent"
	fi
}
printf 'Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nGr\303\274\303\237e, Alice: nobody but you can read this.\r\n' \
	> "$dir/entity-alice"
mail_shown alice alice@smilla.test "S/MIME demo" 3 1
say "Alice decrypts it with her key (openssl smime -decrypt)"
openssl smime -decrypt -in "$m" -inkey "$dir/certs/alice.key" \
	-recip "$dir/certs/alice.pem" -binary > "$dir/decrypted-alice"
opened alice

say "smilla, the milter: mail to bob@smilla.test, who publishes an OpenPGP key (OPENPGPKEY)"
printf 'Content-Type: text/plain; charset=utf-8\r\n\r\nHello Bob: only your OpenPGP key opens this.\r\n' \
	> "$dir/entity-bob"
mail_shown bob bob@smilla.test "PGP/MIME demo" 15 2
echo "    ..."
say "Bob decrypts it with his secret key (gpg --decrypt)"
mkdir -m 700 "$dir/gnupg-bob"
gpg --homedir "$dir/gnupg-bob" --batch --quiet --import "$dir/keys/bob-secret.pgp" 2>/dev/null
gpg --homedir "$dir/gnupg-bob" --batch --decrypt "$m" > "$dir/decrypted-bob" 2> "$dir/gpg.log" || true
GNUPGHOME="$dir/gnupg-bob" gpgconf --kill all 2>/dev/null || true
grep -E '^gpg: encrypted with' -A1 "$dir/gpg.log" | sed 's/^/    /'
opened bob
"$pf_sh" send "$dir/pfm" --to nobody@smilla.test --header "Subject: no key" >/dev/null || true
"$pf_sh" wait-mail "$dir/pfm" 3 >/dev/null || true
say "One log line per message (smilla)"
grep 'queue_id=' "$dir/milter.log" | sed 's/^smilla: info: /    /' | cut -c1-160
"$pf_sh" stop "$dir/pfm" >/dev/null
kill "$ml_pid"
wait "$ml_pid" || true
ml_pid=""

say "The reputation store: smillactl report"
show report

say "Done: Postfix, smilla-policyd, smilla, gpg-agent and the test bed stopped and removed"
