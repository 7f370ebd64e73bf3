#!/bin/bash
# tests/soak/soak.sh - the soak test (make soak; not in make check):
# SOAK_MESSAGES (10000) messages through a private Postfix
# (tests/e2e/postfix.sh) with both daemons, over SOAK_SESSIONS (10)
# parallel SMTP sessions of bench/soak-client (STARTTLS, a client
# certificate per connection, 1..20 messages a connection, every reply
# code checked against the plan), against the DNSSEC test bed.  Run it
# through tests/check.sh, which starts the bed:
#
#   tests/check.sh -v tests/soak/soak.sh
#
#   smilla-policyd  check_policy_service (RCPT and DATA), require_table
#                   bad.smilla.test
#   smilla          the milter: local_domains = mx.smilla.test,
#                   mixed_recipients = split with its copies going to a
#                   second, milter-free smtpd, require_encryption_table
#                   carol@ (keys) and must@ (none)
# The messages (tests/soak/soak.pl draws them with SOAK_SEED, says who
# sends what and what must arrive): S/MIME recipients, OpenPGP ones,
# keyless ones, the required ones, mixes of the three that split, and
# signed mail (S/MIME by frank, PGP/MIME by bob; tests/lib/sign.sh) to a
# local user; from clients that pass DANE client authentication, fail
# it, fail it while required (554 at RCPT), or show no certificate.
#
# Asserted, and the figures printed:
#   - 0 lost: every reply as the plan says, every accepted recipient's
#     copy in the Maildir exactly once (by Subject and Delivered-To) in
#     the form its status header says (CMS EnvelopedData; PGP/MIME with
#     a good armor checksum and a PKESK first; plaintext and verified
#     ones byte for byte as sent), nothing else there, the queue empty;
#     a sample decrypted with openssl cms and gpg, byte for byte the
#     entity sent
#   - both daemons' VmRSS and open descriptors, sampled twice a second
#     while the client runs (at least 5 samples a quarter: here, runs of
#     SOAK_MESSAGES 2000 or more): the last quarter's highest RSS at
#     most 10% above the second quarter's, its highest descriptor count
#     at most SOAK_FD_SLACK (4) above
#   - the database: the decisions of each source, identity, result and
#     key type exactly those the plan makes (soak.pl); rep_events at
#     most two rows per decision and second (rows alike in every field
#     merge within a flush; a second spans at most two flushes, which
#     come a second apart); rep_identities exactly the identities of the
#     events, with the same totals, one key of each kind and no key
#     change; rep_keys no more rows than (identity, key type) pairs,
#     the DNS cache no more than two per identity
#   - each daemon exits 0 on SIGTERM, its log without an error, a
#     warning or a sanitizer report
#
# Environment: SOAK_MESSAGES, SOAK_SESSIONS, SOAK_SEED (1),
# SOAK_FD_SLACK, SOAK_CLIENT (default $SMILLA_PLAIN/bench/soak-client),
# SOAK_BUILD (below),
# SOAK_KEEP=DIR: a copy of the work directory (configurations, logs,
# plan, results, samples, Maildir, database) is left there.
# SOAK_BUILD: the daemons' build tree, default SMILLA_PLAIN (check.sh:
# ./build, -O2 -g), whose memory is what the daemons use in production;
# SOAK_BUILD=build/asan (after make check-build) soaks the sanitizer
# build, whose reports the log check then catches: ASan's allocator
# adds to the RSS (its quarantine of freed memory, capped at 0 here, a
# cache per thread, and libmilter starts a thread per connection), so
# its figures are the allocator's as much as the daemons'.
set -eu
export LC_ALL=C
. "$(dirname "$0")/../lib/tap.sh"
require_bed
. "$(dirname "$0")/../lib/mta.sh"
mta_setup soak tmp g
PF_SH="$SMILLA_TOP/tests/e2e/postfix.sh"
pf="$work/pf"
sm="$work/sm"
pg="$work/pg"
HOMES="soak"
MILTERS="s"
declare -A mpid=()
RCPT="user@mx.smilla.test"
AUTHSERV=mx.smilla.test
. "$SMILLA_TOP/tests/lib/mail.sh"
. "$SMILLA_TOP/tests/lib/sign.sh"
. "$SMILLA_TOP/tests/lib/proc.sh"

N=${SOAK_MESSAGES:-10000}
SESSIONS=${SOAK_SESSIONS:-10}
SEED=${SOAK_SEED:-1}
FD_SLACK=${SOAK_FD_SLACK:-4}
CLIENT=${SOAK_CLIENT:-$SMILLA_PLAIN/bench/soak-client}
daemons=${SOAK_BUILD:-$SMILLA_PLAIN}
pd="$daemons/smilla-policyd"
mil="$daemons/smilla"
pdpid=""
sampler=""
export ASAN_OPTIONS="${ASAN_OPTIONS:-}${ASAN_OPTIONS:+:}quarantine_size_mb=0"

keep() { [ -z "${SOAK_KEEP:-}" ] || cp -a "$work" "$SOAK_KEEP" 2>/dev/null || true; }
cleanup() {
	keep
	[ -n "$sampler" ] && kill "$sampler" 2>/dev/null || true
	"$PF_SH" stop "$pf" >/dev/null 2>&1 || true
	milters_kill
	[ -n "$pdpid" ] && kill "$pdpid" 2>/dev/null || true
	agents_kill
	GNUPGHOME="$pg" gpgconf --kill all >/dev/null 2>&1 || true
}
trap cleanup EXIT
secs() { awk -v a="$1" -v b="${2:-$EPOCHREALTIME}" 'BEGIN { printf "%.1f", b - a }'; }
[ -x "$CLIENT" ] || { ok 1 "soak client $CLIENT built (make soak builds it)"; done_testing; exit 1; }

# ------------------------------------------------------------------ daemons, Postfix

RPORT=$(pick_port)
printf 'must@smilla.test\ncarol@smilla.test\n' >"$work/s-require.tbl"
printf 'bad.smilla.test\n' >"$work/require.tbl"
milter_conf s "local_domains = mx.smilla.test" "mixed_recipients = split" \
	"split_key_file = $work/split.key" "reinject_service = inet:127.0.0.1:$RPORT"
# The policy daemon shares the milter's database, as one smilla.conf
# would have them do.
{
	grep -v '^db_path' "$BED_DIR/smilla.conf"
	echo "db_path = $work/s.db"
	echo "authserv_id = mx.smilla.test"
	echo "require_table = $work/require.tbl"
	echo "listen = unix:$work/policy.sock"
	echo "socket_mode = 0666"
} >"$work/policyd.conf"
"$pd" -c "$work/policyd.conf" 2>"$work/policyd.log" &
pdpid=$!
wait_socket "$work/policy.sock"
check "smilla-policyd listening on $work/policy.sock" [ -S "$work/policy.sock" ]
milters_start || { done_testing; exit 1; }
export PF_POLICY="unix:$work/policy.sock"
export PF_EXTRA_DOMAINS="smilla.test"
export PF_MASTER_EXTRA="127.0.0.1:$RPORT inet n - n - - smtpd
  -o smtpd_milters= -o smtpd_milter_maps="
postfix_start || { done_testing; exit 1; }

# ------------------------------------------------------------------ messages

# The templates: msg/NAME.eml with "soak @ID@" as Subject and
# <@ID@@client.test> as Message-ID, which the client fills in.
template() {
	perl -0777 -pi -e 's/^Subject: .*?\r\n/Subject: soak \@ID\@\r\n/m;
		s/^Message-ID: .*?\r\n/Message-ID: <\@ID\@\@client.test>\r\n/m' "$work/msg/$1.eml"
	entity "$1"
}
{
	printf 'MIME-Version: 1.0\nContent-Type: text/plain; charset=us-ascii\n\n'
	for i in $(seq 1 40); do printf 'Line %02d of a soak message, long enough to be a real one.\n' "$i"; done
} | msg txt "undisclosed-recipients:;"
template txt
eightbit_msg | msg 8bit "undisclosed-recipients:;"
template 8bit
mkdir -m 700 "$pg" "$work/g/soak"
gpg --homedir "$pg" --batch --import "$keys/bob-secret.pgp" >"$work/pg.log" 2>&1 && rc=0 || rc=$?
is "$rc" 0 "gpg imports bob's secret key (to sign)"
part ssig >"$work/msg/ssig.part"
check "openssl cms -sign (frank, detached)" cms_sign ssig frank
assemble ssig "Frank <frank@smilla.test>" smime
template ssig
part psig >"$work/msg/psig.part"
check "gpg --detach-sign (bob)" gpg_sign psig bob
assemble psig "Bob <bob@smilla.test>" pgp
template psig
for k in bob rsa; do
	gpg_in soak --import "$keys/$k-secret.pgp" >>"$work/g/soak.log" 2>&1 || true
done
gpg_in soak --import "$keys/bench-secret.pgp" >>"$work/g/soak.log" 2>&1 && rc=0 || rc=$?
is "$rc" 0 "gpg home for decryption: bob's, rsa's and the pgpNN keys"

perl "$here/soak.pl" plan "$N" "$SEED" "$work/msg" "$work/plan" "$work/expect" "$work/decisions"
is "$(grep -c '^M ' "$work/plan")" "$N" "plan: $N messages in $(grep -c '^C ' "$work/plan") connections"

# ------------------------------------------------------------------ the run

# VmRSS (kB) and open descriptors of both daemons twice a second:
# "TIME RSS_POLICYD FD_POLICYD RSS_MILTER FD_MILTER".
sample() {
	while :; do
		printf '%s' "$EPOCHREALTIME"
		for p in "$pdpid" "${mpid[s]}"; do
			printf ' %s %s' "$(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status")" \
				"$(find "/proc/$p/fd" -mindepth 1 -maxdepth 1 | wc -l)"
		done
		echo
		sleep 0.5
	done
}
sample >"$work/samples" 2>/dev/null &
sampler=$!
t0=$EPOCHREALTIME
"$CLIENT" -t "127.0.0.1:$PF_PORT" -p "$work/plan" -o "$work/results" -c "$SESSIONS" \
	-C "$certs" >"$work/client.out" 2>"$work/client.err" && rc=0 || rc=$?
t1=$EPOCHREALTIME
kill "$sampler"
wait "$sampler" 2>/dev/null || true
sampler=""
summary=$(tail -n1 "$work/client.out")
is "$rc" 0 "soak-client: every reply as planned ($summary)"
[ -s "$work/client.err" ] && diag "$(head -n 5 "$work/client.err")"
grep -v ' ok ' "$work/results" | head -n 5 | while read -r l; do diag "$l"; done

# Every copy delivered: the Maildir full and the queue empty (the split
# copies and the deliveries lag behind the client).
want=$(wc -l <"$work/expect")
for _ in $(seq 1 600); do
	have=$(find "$PF_MAILDIR/new" "$PF_MAILDIR/cur" -maxdepth 1 -type f | wc -l)
	[ "$have" -ge "$want" ] && [ "$(postqueue -c "$PF_CONF" -j | wc -l)" -eq 0 ] && break
	sleep 1
done
t2=$EPOCHREALTIME
run perl "$here/soak.pl" tally "$work/expect" "$work/results" "$PF_MAILDIR" "$work/msg" "$work/sample"
is "$rc" 0 "every accepted recipient's copy delivered once, as its status header says"
diag "$out"
tally=$out

# A sample decrypted, byte for byte the entity sent.
n_dec=0
while read -r f r t kind; do
	case $kind in
	smime)
		k=alice
		[ "$r" = carol@smilla.test ] && k=carol
		body "$f" | base64 -d >"$work/out/dec.der" 2>/dev/null
		if openssl cms -decrypt -binary -inform DER -in "$work/out/dec.der" \
			-inkey "$certs/$k.key" -out "$work/out/dec" 2>"$work/out/dec.err" &&
			same_file "$work/out/dec" "$work/msg/$t.entity"; then :; else
			ok 1 "decrypts: $f ($r, S/MIME)"
			continue
		fi
		;;
	pgp) gpg_decrypts_to "$f" soak "$t" >/dev/null || { ok 1 "decrypts: $f ($r, PGP/MIME)"; continue; } ;;
	esac
	n_dec=$((n_dec + 1))
done <"$work/sample"
check "a sample of $(wc -l <"$work/sample") encrypted copies decrypts byte for byte ($n_dec did)" \
	[ "$n_dec" -eq "$(wc -l <"$work/sample")" -a "$n_dec" -gt 0 ]

# ------------------------------------------------------------------ memory and descriptors

# Per quarter of the client's run: the highest and lowest of each
# column; then the verdicts.
quarters() {
	awk -v t0="$t0" -v t1="$t1" -v slack="$FD_SLACK" '
		{ q = int(4 * ($1 - t0) / (t1 - t0)); if (q < 0 || q > 3) next
		  for (c = 2; c <= 5; c++) {
			if (!((q, c) in hi) || $c > hi[q, c]) hi[q, c] = $c
			if (!((q, c) in lo) || $c < lo[q, c]) lo[q, c] = $c
		  }
		  n[q]++ }
		END {
			split("policyd_rss_kB policyd_fds milter_rss_kB milter_fds", name)
			for (c = 2; c <= 5; c++) {
				line = sprintf("%-15s", name[c - 1])
				for (q = 0; q < 4; q++) line = line sprintf("  q%d %s..%s", q + 1, lo[q, c], hi[q, c])
				print line
			}
			printf "samples per quarter: %d %d %d %d\n", n[0], n[1], n[2], n[3]
			for (c = 2; c <= 5; c += 2)
				printf "verdict %s %d\n", name[c - 1], hi[3, c] <= hi[1, c] * 1.10
			for (c = 3; c <= 5; c += 2)
				printf "verdict %s %d\n", name[c - 1], hi[3, c] <= hi[1, c] + slack
		}' "$work/samples"
}
figures=$(quarters)
diag "$figures"
check "at least 5 samples in each quarter ($(printf '%s\n' "$figures" | sed -n 's/^samples per quarter: //p'))" \
	awk '/^samples per quarter:/ { exit !($4 >= 5 && $5 >= 5 && $6 >= 5 && $7 >= 5) }' <<<"$figures"
for w in policyd_rss_kB milter_rss_kB; do
	is "$(printf '%s\n' "$figures" | sed -n "s/^verdict $w //p")" 1 \
		"$w: last quarter's highest <= second quarter's + 10%"
done
for w in policyd_fds milter_fds; do
	is "$(printf '%s\n' "$figures" | sed -n "s/^verdict $w //p")" 1 \
		"$w: last quarter's highest <= second quarter's + $FD_SLACK"
done

# ------------------------------------------------------------------ the end: daemons, logs

mta_end "$want"
kill -TERM "$pdpid"
wait "$pdpid" && rc=0 || rc=$?
pdpid=""
is "$rc" 0 "smilla-policyd exits 0 on SIGTERM"
for l in policyd s; do
	# (The one warning the bed asks for: it runs the daemons as root.)
	bad=$(grep -iE 'error|warning|fatal|panic|AddressSanitizer|LeakSanitizer|runtime error' "$work/$l.log" |
		grep -v 'warning: running as root (allow_root = yes)$' || true)
	is "$(printf '%s' "$bad" | grep -c .)" 0 "$l.log ($(wc -l <"$work/$l.log") lines): no error, warning or sanitizer report"
	[ -n "$bad" ] && diag "$(printf '%s\n' "$bad" | head -n 5)"
done
diag "Postfix maillog: $(grep -ciE 'warning|fatal|panic' "$PF_LOG") warnings" \
	"$(grep -iE 'warning|fatal|panic' "$PF_LOG" | sed 's/^[^]]*\]: //; s/[0-9A-F]\{8,\}/Q/g' | sort | uniq -c | sort -rn | head -n 5)"

# ------------------------------------------------------------------ the database

q() { sqlite3 "$work/s.db" "$1"; }
# The milter's delivery rows (what it did for each recipient) against
# the tally of what arrived; then the decisions, which they are not.
t_() { printf '%s\n' "$tally" | tr ' ' '\n' | sed -n "s/^$1=//p" | head -n1; }
dq() { q "select coalesce(sum(count), 0) from rep_events where key_type = 'delivery' $1"; }
is "$(dq "and action in ('encrypted', 'plaintext', 'untouched')")" "$(t_ delivered)" \
	"delivery rows: one per recipient's copy delivered ($(t_ delivered))"
is "$(dq "and action = 'encrypted' and format = 'smime'")" "$(t_ smime)" "  S/MIME: $(t_ smime)"
is "$(dq "and action = 'encrypted' and format = 'openpgp'")" "$(t_ pgp)" "  PGP/MIME: $(t_ pgp)"
ev="rep_events where ifnull(key_type, '') != 'delivery'"
rows=$(q "select count(*) from $ev")
decisions=$(q "select sum(count) from $ev")
per=$(q "select coalesce(max(c), 0) from (select count(*) c from $ev group by time, source,
	client_address, helo, identity, result, usage, selector, mtype, cert_fp, key_fp,
	tls_protocol, tls_cipher, key_type)")
check "rep_events: $rows rows for $decisions decisions, at most 2 a decision and second ($per)" \
	[ "$per" -le 2 ]
got=$(q "select source, identity, result, key_type, sum(count) from $ev
	group by 1, 2, 3, 4 order by 1, 2, 3, 4")
is "$(printf '%s\n' "$got" | cmp -s - "$work/decisions" && echo same)" same \
	"  the decisions of each source, identity, result and key type: as many as the plan makes"
printf '%s\n' "$got" | diff "$work/decisions" - | head -n 10 | while read -r l; do diag "$l"; done
logged=$(grep -c ' result=' "$work/policyd.log" || true)
is "$(q "select sum(count) from rep_events where source = 'policyd'")" "$logged" \
	"  the policy daemon's decisions: as many as it logged"
is "$(q "select count(*) from rep_identities")" "$(q "select count(distinct identity) from $ev")" \
	"rep_identities: one row per identity of the events"
cols=$(q "select group_concat(name, ' + ') from pragma_table_info('rep_identities') where name like 'n\_%' escape '\\'")
is "$(q "select count(*) from rep_identities i where $cols !=
	(select sum(count) from $ev and identity = i.identity)")" 0 \
	"  each identity's totals ($cols) are its events' counts"
# One key of each kind per identity (carol's SMIMEA and OPENPGPKEY are
# two; bob's OPENPGPKEY signs too: one), none changed.
changed=$(q "select identity, keys_seen, key_changes from rep_identities i where key_changes != 0 or
	keys_seen != (select count(distinct key_fp) from rep_keys k where k.identity = i.identity)
	union select identity, key_type, count(*) from rep_keys group by 1, 2 having count(*) > 1")
is "$(printf '%s' "$changed" | grep -c .)" 0 "  one key of each kind per identity, no key change (none changed)"
[ -n "$changed" ] && diag "identity|keys_seen|key_changes: $changed"
check "rep_keys: $(q "select count(*) from rep_keys") rows, no more than (identity, key type) pairs" \
	[ "$(q "select count(*) from rep_keys")" -le "$(q "select count(*) from (select distinct identity, key_type from $ev)")" ]
names=$(q "select count(distinct identity) from $ev")
check "dns_cache: $(q "select count(*) from dns_cache") rows, no more than 2 per identity ($names)" \
	[ "$(q "select count(*) from dns_cache")" -le $((2 * names)) ]
size=$(stat -c %s "$work/s.db")
wal=$(stat -c %s "$work/s.db-wal" 2>/dev/null || echo 0)
diag "database: $(q "select count(*) from rep_identities") identities, $(q "select count(*) from rep_keys") keys," \
	"$(q "select count(*) from dns_cache") cache rows; $size octets (+ $wal in the WAL)"
diag "$(q "select source, count(*), sum(count) from rep_events group by source" | sed 's/^/rows by source|rows|decisions: /')"

agents_kill
GNUPGHOME="$pg" gpgconf --kill all >/dev/null 2>&1 || true
nothing_left "daemons, Postfix, gpg-agents"
accepted=$(sed -n 's/.* accepted_rcpts=\([0-9]*\).*/\1/p' <<<"$summary")
diag "soak: $N messages ($accepted recipients accepted, $want copies delivered) over $SESSIONS sessions:" \
	"client $(secs "$t0" "$t1") s ($(awk -v n="$N" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", n / (b - a) }') messages/s)," \
	"all delivered $(secs "$t0" "$t2") s after the start; whole test $(secs "$t_start") s"
trap - EXIT
keep
done_testing
