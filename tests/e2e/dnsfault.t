#!/bin/bash
# Fault tests (issue 15): DNS failing under both daemons.  The signed
# zone smilla.test is reached through tests/bed/faultdns.pl, a proxy in
# front of the bed's NSD that the test switches between faults: the
# server down (the proxy stopped, its port closed), slow (answers after
# dns_timeout), SERVFAIL, bogus (every RRSIG spoiled), and truncated
# (TC over UDP: with TCP working, and with TCP refused).  Meanwhile:
#   - smilla-policyd answers a cached client at once, beside an
#     uncached one whose lookup fails: temperror (bogus for spoiled
#     signatures), the reason logged, never a pass;
#   - the milter, under a real Postfix, encrypts to a cached recipient,
#     refuses an uncached required one with 450 4.7.5 (never plaintext),
#     and passes an uncached optional one in plaintext (reason=no-key,
#     its state in the log line), as smilla.8 says;
#   - over TCP after a truncated answer, decisions are as ever.
# Once DNS is back, every refused message is sent again and delivered
# encrypted, and the names that failed are decided: the count at the end
# is every message sent, delivered.
set -eu
export LC_ALL=C
. "$(dirname "$0")/../lib/tap.sh"
require_bed
. "$(dirname "$0")/../lib/mta.sh"
. "$(dirname "$0")/../lib/proc.sh"
mta_setup dnsfault tmp
pf="$work/pf"
MILTERS="a"
declare -A mpid=()
. "$here/../lib/mail.sh"
. "$BED_DIR/bed.env"
client() { "$here/../policy/client.pl" "$@"; }

fport=$(pick_port "$NSD_PORT" "$BH_PORT")
mode="$work/faultdns.mode"
ppid_=""
proxy_start() {
	rm -f "$work/faultdns.pid"
	setsid perl "$here/../bed/faultdns.pl" "$fport" "$NSD_PORT" "$mode" \
		"$work/faultdns.pid" </dev/null >>"$work/faultdns.log" 2>&1 &
	for _ in $(seq 1 50); do
		[ -s "$work/faultdns.pid" ] && break
		sleep 0.1
	done
	ppid_=$(cat "$work/faultdns.pid" 2>/dev/null || true)
	[ -n "$ppid_" ]
}
proxy_stop() {
	[ -n "$ppid_" ] || return 0
	kill -TERM "$ppid_" 2>/dev/null || true
	wait_gone "$ppid_" 30 || true
	ppid_=""
}
fault() { echo "$*" >"$mode.tmp" && mv "$mode.tmp" "$mode"; }
pol_pid=""
cleanup() {
	"$PF_SH" stop "$pf" >/dev/null 2>&1 || true
	milters_kill
	[ -n "$pol_pid" ] && kill -TERM "$pol_pid" 2>/dev/null || true
	proxy_stop
}
trap cleanup EXIT

fault pass
check "fault proxy up on 127.0.0.1:$fport" proxy_start

# The bed's resolver settings with smilla.test behind the proxy.  Bogus
# answers are remembered 1 s (libunbound's val-bogus-ttl, and no
# cache_bogus_ttl), a server found down is tried again after 1 s
# (infra-host-ttl), and NXDOMAIN is not synthesised from cached NSEC
# records, so that every fresh name below reaches the network.
sed "s/127\.0\.0\.1@$NSD_PORT\$/127.0.0.1@$fport/" "$BED_DIR/unbound.conf" |
	sed 's/^server:$/server:\n\tval-bogus-ttl: 1\n\tinfra-host-ttl: 1\n\taggressive-nsec: no/' \
	>"$work/unbound.conf"
common="unbound_conf = $work/unbound.conf
dns_timeout = 2
cache_bogus_ttl = 0"

# ------------------------------------------------------------------ the daemons

{ grep -v '^db_path' "$BED_DIR/smilla.conf"
  printf '%s\n' "$common"
  echo "db_path = $work/policy.db"
  echo "authserv_id = mx.smilla.test"
  echo "listen = unix:$work/policy.sock"; } >"$work/policy.conf"
"$SMILLA_BUILD/smilla-policyd" -c "$work/policy.conf" 2>"$work/policy.log" &
pol_pid=$!
wait_socket "$work/policy.sock"
check "smilla-policyd listening" [ -S "$work/policy.sock" ]

# Required recipients: one fresh S/MIME one per fault; the OpenPGP bench
# recipients are optional.
printf '%s\n' $BENCH_RCPTS >"$work/a-require.tbl"
milter_conf a "local_domains = mx.smilla.test" "$common"
milters_start || { done_testing; exit 1; }
export PF_EXTRA_DOMAINS="smilla.test"
postfix_start || { done_testing; exit 1; }
total=0

K=$GOOD_SPKI_SHA256_COLON
out=$(client "$work/policy.sock" <<SCRIPT
open w
send w helo=good.smilla.test key=$K
recv w
SCRIPT
)
like "$out" '^w [0-9]+ action=PREPEND DANE-Client-Auth: pass' "DNS up: good.smilla.test passes (and is cached)"

note warm alice@smilla.test "Sent while DNS works: alice's key is cached from now on."
deliver warm alice@smilla.test 1 "DNS up: to alice"
encrypted_ok "$m" 1 aes256-cbc

# ------------------------------------------------------------------ the faults

# Each fault: its mode for the proxy (down: the proxy stopped), the
# state a fresh lookup ends in, a fresh required and a fresh optional
# recipient.
refused=""
i=0
for f in down "slow 4" servfail bogus truncdead; do
	i=$((i + 1))
	what=${f%% *}
	req=$(printf 'rcpt%02d@smilla.test' "$i")
	opt=$(printf 'pgp%02d@smilla.test' "$i")
	state=temperror
	[ "$what" = bogus ] && state=bogus
	if [ "$what" = down ]; then proxy_stop; else fault "$f"; fi

	# smilla-policyd: the cached client beside a fresh one.
	out=$(client "$work/policy.sock" <<SCRIPT
open fresh
send fresh helo=f$i.smilla.test key=$K
open cached
send cached helo=good.smilla.test key=$K
recv cached 2
recv fresh 6
SCRIPT
)
	like "$out" '^cached [0-9]+ action=PREPEND DANE-Client-Auth: pass' \
		"DNS $what: the cached client passes"
	ms=$(printf '%s\n' "$out" | awk '$1 == "cached" {print $2}')
	check "  at once (${ms:-?} ms), while the fresh lookup fails" [ "${ms:-9999}" -lt 500 ]
	like "$out" "^fresh [0-9]+ action=PREPEND DANE-Client-Auth: $state \\(identity=f$i\\.smilla\\.test; reason=[^)]+" \
		"  the fresh client: $state, with its reason"

	# The milter: cached, required, optional.
	note "c$i" alice@smilla.test "Sent while DNS is $what: to cached alice."
	deliver "c$i" alice@smilla.test 1 "DNS $what: to cached alice"
	encrypted_ok "$m" 1 aes256-cbc
	check "  alice decrypts it" decrypts_to "$m" alice "c$i"

	note "r$i" "$req" "Sent while DNS is $what: to $req, who requires encryption."
	send "r$i" "$req"
	like "$out" "<(\\*\\*|~\\*) +450 4\\.7\\.5 .*encryption required for <${req//./\\.}>: key lookup failed" \
		"  to required $req: 450 4.7.5 at RCPT"
	is "$qid" "" "  nothing accepted"
	refused="$refused r$i:$req"

	note "o$i" "$opt" "Sent while DNS is $what: to optional $opt."
	deliver "o$i" "$opt" 1 "  to optional $opt"
	plaintext_ok "$m" "o$i" no-key 1 0
	like "$(logline a "$qid")" " rcpts=${opt//./\\.}:$state action=plaintext " \
		"  log: $opt:$state"
	[ "$what" = down ] && check "  fault proxy up again" proxy_start
done

# Truncated over UDP, TCP working: a fresh required recipient is
# encrypted to, a fresh client decided.
fault truncate
note tc rcpt06@smilla.test "Sent while every UDP answer is truncated."
deliver tc rcpt06@smilla.test 1 "DNS truncating over UDP (TCP works): to required rcpt06"
encrypted_ok "$m" 1 aes256-cbc
check "  it decrypts" cms_to "$m" tc
out=$(client "$work/policy.sock" <<SCRIPT
open t
send t raw=request=smtpd_access_policy\nprotocol_state=RCPT\nhelo_name=cert.smilla.test\nclient_address=127.0.0.1\ninstance=t1\nccert_fingerprint=$GOOD_CERT_SHA256_COLON\n\n
recv t 6
SCRIPT
)
like "$out" '^t [0-9]+ action=PREPEND DANE-Client-Auth: pass \(identity=cert\.smilla\.test' \
	"  a fresh client over TCP: pass"

# ------------------------------------------------------------------ DNS back

fault pass
# Every refused message again, as its client would send it: delivered
# encrypted.  libunbound answers a name whose lookup ended in SERVFAIL
# from its cache for about 5 s more, so the first tries may be refused
# again, with the same 450 (never accepted in clear); a client retries
# after minutes, this one each second, for up to 20 s.
again() { # NAME ADDRESS: send until accepted; sets tries, early
	tries=0 early=""
	while :; do
		tries=$((tries + 1))
		send "$1" "$2"
		[ "$rc" -eq 0 ] && return 0
		printf '%s\n' "$out" | grep -qE '<(\*\*|~\*) +450 4\.7\.5 ' || early="$early $tries"
		[ "$tries" -ge 20 ] && return 1
		sleep 1
	done
}
for r in $refused; do
	n=${r%%:*}
	a=${r#*:}
	again "$n" "$a" || true
	is "$rc" 0 "DNS back: $n to $a again: accepted (try $tries)"
	is "$early" "" "  every earlier try refused with 450 4.7.5"
	total=$((total + 1))
	m=$(delivered "$n" 1) || true
	encrypted_ok "$m" 1 aes256-cbc
	check "  it decrypts" cms_to "$m" "$n"
done
out=$(client "$work/policy.sock" <<SCRIPT
open b
send b helo=f1.smilla.test key=$K
recv b 6
SCRIPT
)
like "$out" '^b [0-9]+ action=DUNNO$' \
	"DNS back: the client that failed while it was down is decided"
like "$(tail -n 3 "$work/policy.log")" 'helo=f1\.smilla\.test identity=f1\.smilla\.test result=none reason="no TLSA records" lookup=dns' \
	"  none (no TLSA records), from DNS"
check "the proxy saw the queries (the lookups did reach the network)" \
	[ "$(cat "$work/faultdns.count" 2>/dev/null || echo 0)" -gt 20 ]

unlike "$(cat "$work/policy.log")" 'AddressSanitizer|LeakSanitizer|runtime error:' \
	"smilla-policyd: no sanitizer report"
kill -TERM "$pol_pid"
wait "$pol_pid" && rc=0 || rc=$?
pol_pid=""
is "$rc" 0 "smilla-policyd exits 0 on SIGTERM"
mta_end "$total"
proxy_stop
nothing_left "milter, Postfix, policy daemon, proxy"
echo "# dnsfault.t: $(awk -v a="$t_start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }') s"
trap - EXIT
done_testing
