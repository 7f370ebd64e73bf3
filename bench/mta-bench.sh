#!/bin/bash
# mta-bench.sh - messages a second through a real Postfix: with no
# milter, with the do-nothing null milter, and with smilla encrypting
# S/MIME and PGP/MIME, all in one Postfix instance, in turns.
#
#   bench/mta-bench.sh               (or: make bench, after milter-bench)
#
# A private Postfix (tests/e2e/postfix.sh: postfix -c DIR, loopback
# only) with five smtpd listeners that differ only in smtpd_milters:
#   bare   none (the cost of Postfix and smtp-source alone)
#   null   unix:WORK/null.sock, bench/null-milter (the baseline)
#   smilla unix:WORK/smilla.sock, smilla with the test bed's DNSSEC data
#   rsmime, rpgp  unix:WORK/rsmime.sock, unix:WORK/rpgp.sock:
#          bench/null-milter -R, replaying on every message the changes
#          smilla made to one message shaped as smtp-source's (recorded
#          at the start with milter-load -o: its new header fields and
#          its encrypted body), with none of smilla's work
# Every message is delivered by discard(8), so that no delivery agent,
# mailbox or sink adds work of its own.  smtp-source (Postfix's test
# client) sends BENCH_MTA_MSGS (1000) messages of BENCH_MTA_SIZE (10240)
# octets over BENCH_MTA_SESSIONS (10) parallel sessions, one message a
# session (its default), to one recipient:
#   bare, null, smime   alice@smilla.test (SMIMEA)
#   pgp                 bob@smilla.test (OPENPGPKEY)
#   pass                nobody@smilla.test (no key: smilla passes it)
#   rsmime, rpgp        alice, bob (the replay milters)
# The replay turns tell Postfix's share apart: what the MTA itself
# spends on taking an encrypted message (the rewritten body and header
# fields through the milter protocol, into the queue file) against the
# null milter, and smilla's own work against the replay.
# The turns bare, null, pass, rsmime, smime, rpgp, pgp are taken BENCH_MTA_ROUNDS (5)
# times, after one unmeasured turn of each.  A turn is timed from smtp-source's
# start to its exit (every message has been answered 250 after DATA,
# that is the milter has replied and cleanup has queued it); then the
# queue must drain before the next turn.  Reported: messages a second
# (median), the median of the rounds' ratios against the null milter,
# and CPU per message of the milter, of Postfix (every process of the
# instance, exited ones through the master's children times) and of
# smtp-source.
#
# Checks: every turn's messages all delivered (discard's status=sent in
# the maillog); for smime and pgp, each one with "X-Smilla: encrypted
# smime" or "encrypted pgp" (milter_header_checks logs the header smilla
# added), for pass "X-Smilla: plaintext", for the others no X-Smilla at
# all; smtp-source exits 0 (no
# 4xx/5xx).  Exit status: 0 when every check passed, 1 otherwise, 2 on
# setup failure.  Must run as root (Postfix).
#
# Environment: SMILLA_BUILD (default ./build), BENCH_MTA_MSGS,
# BENCH_MTA_SIZE, BENCH_MTA_SESSIONS, BENCH_MTA_ROUNDS, BENCH_MTA_KINDS
# (some of the turns, for a profile: the ratios need null),
# BENCH_MTA_REPLAY_SPIN=USEC (the replay milters also burn USEC of CPU
# on every message: null-milter -S), BENCH_KEEP=1
# keeps the work directory (Postfix's configuration and maillog, the
# milters' logs).
#
# The helpers it shares with the other benchmarks are in bench/lib.sh.
set -u

PROG=mta-bench
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "$0")/lib.sh"
# pick_port
# shellcheck source=SCRIPTDIR/../tests/lib/proc.sh
. "$TOP/tests/lib/proc.sh"

MSGS=${BENCH_MTA_MSGS:-1000}
SIZE=${BENCH_MTA_SIZE:-10240}
SESSIONS=${BENCH_MTA_SESSIONS:-10}
ROUNDS=${BENCH_MTA_ROUNDS:-5}
WARM_MSGS=50
SM=$BUILD/smilla
NM=$BUILD/bench/null-milter
PF_SH=$TOP/tests/e2e/postfix.sh
SOURCE=/usr/sbin/smtp-source
KINDS=${BENCH_MTA_KINDS:-bare null pass rsmime smime rpgp pgp}

STOP_SECS=10	# libmilter takes a few seconds to wind down
START_SECS=10


# ---------------------------------------------------------------- build

[ "$(id -u)" = 0 ] || fail "must run as root (Postfix starts as root)"
[ -x "$SM" ] || fail "$SM missing: run make first"
[ -x "$SOURCE" ] || fail "$SOURCE missing (Debian's postfix package)"
build_prog null-milter -lmilter -lpthread
for t in postfix postconf ss; do
	command -v "$t" >/dev/null 2>&1 || fail "missing tool: $t"
done

# ---------------------------------------------------------------- helpers

now() { date +%s.%N; }

# Queue files not yet delivered.
queued() {
	find "$PF_QUEUE/maildrop" "$PF_QUEUE/incoming" "$PF_QUEUE/active" \
		"$PF_QUEUE/deferred" "$PF_QUEUE/hold" -type f 2>/dev/null | wc -l
}

# CPU ticks of the Postfix instance so far: its master (with the
# children it has reaped, cutime and cstime) and the master's live
# children.  A child that exits between two calls moves from the second
# sum to the first: the difference stays its CPU in between.
postfix_ticks() {
	local m=$1 sum p
	sum=$(sed 's/^.*) //' "/proc/$m/stat" | awk '{ print $12 + $13 + $14 + $15 }')
	for p in $(ps -o pid= --ppid "$m"); do
		sum=$((sum + $(cpu_ticks "$p" || echo 0)))
	done
	echo "$sum"
}

# Busy and total jiffies of the whole machine (/proc/stat "cpu" line).
machine_ticks() {
	awk '/^cpu / { print $2 + $3 + $4 + $7 + $8, $2 + $3 + $4 + $5 + $6 + $7 + $8 }' /proc/stat
}

# ms of CPU per message: ms_per TICKS MSGS.
ms_per() {
	awk -v d="$1" -v t="$TICK" -v n="$2" 'BEGIN { printf "%.3f", (n > 0) ? d * 1000 / t / n : 0 }'
}

# taken KIND: KIND is one of this run's turns.
taken() {
	case " $KINDS " in *" $1 "*) return 0 ;; esac
	return 1
}

# Log lines of the maillog after line $1 that contain $2.
log_count() {
	tail -n +"$(($1 + 1))" "$PF_LOG" | grep -cF -- "$2"
}

# turn KIND TAG MSGS: one turn of smtp-source against KIND's listener;
# the result line goes to RES_TAG.
turn() {
	local kind=$1 tag=$2 n=$3 port rcpt mpid="" l0 c0 c1 p0 p1 m0 m1 t0 t1 t2
	local rc src sent smime pgp plain busy mt0 mt1
	case $kind in
	bare) port=$PF_PORT rcpt=$ALICE ;;
	null) port=$P_NULL rcpt=$ALICE mpid=$NULL_PID ;;
	pass) port=$P_SMILLA rcpt=$NOBODY mpid=$SM_PID ;;
	smime) port=$P_SMILLA rcpt=$ALICE mpid=$SM_PID ;;
	pgp) port=$P_SMILLA rcpt=$BOB mpid=$SM_PID ;;
	rsmime) port=$P_RSMIME rcpt=$ALICE mpid=$RSMIME_PID ;;
	rpgp) port=$P_RPGP rcpt=$BOB mpid=$RPGP_PID ;;
	esac
	say "turn ($tag): $n messages to $rcpt, smtpd on port $port ..."
	l0=$(wc -l <"$PF_LOG")
	c0=0
	[ -n "$mpid" ] && c0=$(cpu_ticks "$mpid")
	p0=$(postfix_ticks "$PF_MASTER")
	read -r m0 mt0 < <(machine_ticks)
	t0=$(now)
	TIMEFORMAT='%U %S'
	{ time "$SOURCE" -s "$SESSIONS" -l "$SIZE" -m "$n" \
		-f sender@client.test -t "$rcpt" -M client.test \
		"127.0.0.1:$port" >"$WORK/source-$tag.out" 2>&1; } \
		2>"$WORK/source-$tag.time"
	rc=$?
	t1=$(now)
	# The queue drains (discard is quick); the maillog catches up.
	local i
	for i in $(seq 1 600); do
		[ "$(queued)" = 0 ] && [ "$(log_count "$l0" "status=sent")" -ge "$n" ] && break
		sleep 0.1
	done
	t2=$(now)
	[ -n "$mpid" ] && c1=$(cpu_ticks "$mpid") || c1=0
	p1=$(postfix_ticks "$PF_MASTER")
	read -r m1 mt1 < <(machine_ticks)
	src=$(awk '{ printf "%.0f", ($1 + $2) * 1000 }' "$WORK/source-$tag.time")
	sent=$(log_count "$l0" "status=sent")
	smime=$(log_count "$l0" "info: header X-Smilla: encrypted smime;")
	pgp=$(log_count "$l0" "info: header X-Smilla: encrypted pgp;")
	plain=$(log_count "$l0" "info: header X-Smilla:")
	plain=$((plain - smime - pgp))
	busy=$(awk -v b="$((m1 - m0))" -v t="$((mt1 - mt0))" 'BEGIN { printf "%.0f", (t > 0) ? 100 * b / t : 0 }')
	printf -v "RES_$tag" '%s' "$(awk -v n="$n" -v a="$t0" -v b="$t1" -v c="$t2" \
		-v mc="$(ms_per $((c1 - c0)) "$n")" -v pc="$(ms_per $((p1 - p0)) "$n")" \
		-v sc="$src" -v sent="$sent" -v sm="$smime" -v pg="$pgp" -v pl="$plain" \
		-v rc="$rc" -v busy="$busy" 'BEGIN {
		printf "msgs=%d seconds=%.3f mps=%.1f drain_s=%.2f milter_cpu_ms=%s postfix_cpu_ms=%s source_cpu_ms=%.3f total_cpu_ms=%.3f machine_busy=%d sent=%d smime=%d pgp=%d plain=%d source_rc=%d",
			n, b - a, n / (b - a), c - b, mc, pc, sc / n, mc + pc + sc / n, busy, sent, sm, pg, pl, rc
	}')"
	local v=RES_$tag
	echo "    ${!v}" >&2
	[ "$rc" = 0 ] || { bad "($tag): smtp-source exit $rc: $(tail -n 2 "$WORK/source-$tag.out" | tr '\n' ' ')"; }
	[ "$sent" = "$n" ] || bad "($tag): $sent of $n messages delivered"
	[ "$(queued)" = 0 ] || bad "($tag): the queue did not drain"
	case $kind in
	smime | rsmime) [ "$smime" = "$n" ] || bad "($tag): $smime of $n messages encrypted smime" ;;
	pgp | rpgp) [ "$pgp" = "$n" ] || bad "($tag): $pgp of $n messages encrypted pgp" ;;
	esac
	case $kind in
	bare | null)
		[ "$((smime + pgp + plain))" = 0 ] || bad "($tag): X-Smilla headers without smilla"
		;;
	pass)
		if [ "$plain" != "$n" ] || [ "$((smime + pgp))" != 0 ]; then
			bad "($tag): $plain of $n messages passed as plaintext"
		fi
		;;
	*)
		[ "$plain" = 0 ] || bad "($tag): $plain messages not encrypted"
		;;
	esac
}

# ---------------------------------------------------------------- setup

bench_setup smilla-mtabench
# Postfix (as the postfix user) must reach the milter sockets and its
# own directories under WORK.
chmod 755 "$WORK"
LOAD0=$(loadavg)
ALICE=alice@smilla.test
BOB=$PGP_BOB
NOBODY=nobody@smilla.test

# shellcheck disable=SC2317 # called by cleanup (lib.sh)
bench_cleanup() {
	[ -d "$WORK/pf" ] && "$PF_SH" stop "$WORK/pf" >/dev/null 2>&1
}

# shellcheck disable=SC2119 # no lines of its own
smilla_conf

start_daemon null-milter "$WORK/null.sock" "$WORK/null.log" \
	"$NM" -p "unix:$WORK/null.sock"
NULL_PID=$DPID
chmod 666 "$WORK/null.sock"
start_daemon smilla "$WORK/smilla.sock" "$WORK/smilla.log" \
	"$SM" -f -c "$WORK/smilla.conf"
SM_PID=$DPID

# What smilla does to a message as smtp-source sends it (its four
# header fields, SIZE octets of lines), once to each recipient: the
# changes the replay milters make to every message.
build_prog milter-load -lpthread
{
	printf 'From: <sender@client.test>\nTo: <%s>\n' "$ALICE"
	printf 'Date: %s\nMessage-Id: <replay@client.test>\n\n' "$(date -R)"
	awk -v n="$SIZE" 'BEGIN { for (i = 1; n > 0; i++) {
		l = sprintf("%dXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX", i)
		l = substr(l, 1, (n < 80) ? n - 2 : 78); print l; n -= length(l) + 2 } }'
} >"$WORK/source.msg"
for kind in smime pgp; do
	[ "$kind" = smime ] && rcpt=$ALICE || rcpt=$BOB
	out=$("$BUILD/bench/milter-load" -u "$WORK/smilla.sock" \
		-m "$WORK/source.msg" -f sender@client.test -r "$rcpt" \
		-o "$WORK/replay-$kind" 2>"$WORK/replay-$kind.err")
	case $(field "$out" replbody_msgs):$(field "$out" status_encrypted) in
	1:1) ;;
	*) fail "smilla did not encrypt the replay message to $rcpt: $out" ;;
	esac
	grep -Eq "^add X-Smilla: +encrypted $kind;" "$WORK/replay-$kind.mods" ||
		fail "the replay message to $rcpt is not encrypted $kind"
done
SPIN=()
[ -n "${BENCH_MTA_REPLAY_SPIN:-}" ] && SPIN=(-S "$BENCH_MTA_REPLAY_SPIN")
start_daemon rsmime "$WORK/rsmime.sock" "$WORK/rsmime.log" \
	"$NM" -p "unix:$WORK/rsmime.sock" -R "$WORK/replay-smime" "${SPIN[@]}"
RSMIME_PID=$DPID
start_daemon rpgp "$WORK/rpgp.sock" "$WORK/rpgp.log" \
	"$NM" -p "unix:$WORK/rpgp.sock" -R "$WORK/replay-pgp" "${SPIN[@]}"
RPGP_PID=$DPID
chmod 666 "$WORK/rsmime.sock" "$WORK/rpgp.sock"

# The header smilla adds, logged by cleanup: which format each message got.
printf '%s\n' '/^X-Smilla: / INFO' >"$WORK/milter_header_checks"

P_NULL=$(pick_port) || fail "no free port"
P_SMILLA=$(pick_port "$P_NULL") || fail "no free port"
P_RSMIME=$(pick_port "$P_NULL" "$P_SMILLA") || fail "no free port"
P_RPGP=$(pick_port "$P_NULL" "$P_SMILLA" "$P_RSMIME") || fail "no free port"
export PF_MAIN_EXTRA="default_transport = discard:bench sink
milter_protocol = 6
milter_default_action = tempfail
milter_header_checks = regexp:$WORK/milter_header_checks"
export PF_MASTER_EXTRA="127.0.0.1:$P_NULL inet n - n - - smtpd
  -o smtpd_milters=unix:$WORK/null.sock
127.0.0.1:$P_SMILLA inet n - n - - smtpd
  -o smtpd_milters=unix:$WORK/smilla.sock
127.0.0.1:$P_RSMIME inet n - n - - smtpd
  -o smtpd_milters=unix:$WORK/rsmime.sock
127.0.0.1:$P_RPGP inet n - n - - smtpd
  -o smtpd_milters=unix:$WORK/rpgp.sock"
say "starting Postfix"
"$PF_SH" start "$WORK/pf" none >"$WORK/pf-start.log" 2>&1 || {
	cat "$WORK/pf-start.log" >&2
	fail "Postfix did not start"
}
# shellcheck disable=SC1091
. "$WORK/pf/postfix.env"
PF_MASTER=$(tr -cd 0-9 <"$PF_QUEUE/pid/master.pid")
for p in $P_NULL $P_SMILLA $P_RSMIME $P_RPGP; do
	for _ in $(seq 1 50); do
		ss -Hltn "sport = :$p" | grep -q . && break
		sleep 0.1
	done
	ss -Hltn "sport = :$p" | grep -q . || fail "Postfix does not listen on $p"
done

# ---------------------------------------------------------------- turns

# One unmeasured turn each: smtpd processes spawned, smilla's lookups
# cached.
for kind in $KINDS; do
	turn "$kind" "warm_$kind" "$WARM_MSGS"
done
for round in $(seq 1 "$ROUNDS"); do
	for kind in $KINDS; do
		turn "$kind" "${kind}_$round" "$MSGS"
	done
done

kill -0 "$SM_PID" 2>/dev/null || bad "smilla is gone (see its log)"
LOAD1=$(loadavg)

# ---------------------------------------------------------------- report

# figs KIND FIELD: FIELD of every round's result, one a line.
figs() {
	local round v
	for round in $(seq 1 "$ROUNDS"); do
		v=RES_$1_$round
		field "${!v:-}" "$2"
	done
}

# ratios KIND BASE: each round's msgs/s of KIND against BASE's.
ratios() {
	local round v b
	for round in $(seq 1 "$ROUNDS"); do
		v=RES_$1_$round b=RES_$2_$round
		awk -v m="$(field "${!v:-}" mps)" -v b="$(field "${!b:-}" mps)" \
			'BEGIN { printf "%.2f\n", (b > 0) ? m / b : 0 }'
	done
}

T1=$(date +%s.%N)
{
	echo
	echo "MTA benchmark: Postfix $(postconf -d -h mail_version) (postfix -c, delivery by discard(8)),"
	echo "smtp-source -s $SESSIONS -l $SIZE -m $MSGS (one message a session), milters on unix sockets,"
	echo "$ROUNDS rounds of the turns: $KINDS"
	[ ${#SPIN[@]} -gt 0 ] && echo "the replay milters burn ${BENCH_MTA_REPLAY_SPIN} us of CPU a message (null-milter -S)"
	echo "host: $(nproc) CPUs, $(uname -sr); load average $LOAD0 at the start, $LOAD1 at the end"
	echo
	printf '%-15s %7s %6s %-22s %7s %8s %7s %7s %6s %6s\n' run msgs/s ratio rounds \
		milter postfix source total by_cpu busy%
	for kind in $KINDS; do
		case $kind in
		bare) label="Postfix alone" ;;
		null) label="null-milter" ;;
		pass) label="smilla, no key" ;;
		smime) label="smilla S/MIME" ;;
		pgp) label="smilla PGP/MIME" ;;
		rsmime) label="replay S/MIME" ;;
		rpgp) label="replay PGP/MIME" ;;
		esac
		rs=$(ratios "$kind" null | paste -sd ' ')
		# shellcheck disable=SC2046,SC2086 # one number a word
		awk -v l="$label" -v m="$(median $(figs "$kind" mps))" \
		    -v r="$(median $rs)" -v rs="$rs" \
		    -v mc="$(median $(figs "$kind" milter_cpu_ms))" \
		    -v pc="$(median $(figs "$kind" postfix_cpu_ms))" \
		    -v sc="$(median $(figs "$kind" source_cpu_ms))" \
		    -v nt="$(median $(figs null total_cpu_ms))" \
		    -v t="$(median $(figs "$kind" total_cpu_ms))" \
		    -v b="$(median $(figs "$kind" machine_busy))" 'BEGIN {
			printf "%-15s %7.0f %6.2f %-22s %7.3f %8.3f %7.3f %7.3f %6.2f %6d\n",
				l, m, r, rs, mc, pc, sc, t, (t > 0) ? nt / t : 0, b
		}'
	done
	echo
	echo "msgs/s: median over the rounds; ratio: the median of the rounds' ratios"
	echo "(listed) against the null milter of the same round.  milter, postfix,"
	echo "source, total: CPU ms per message (user + system; medians) of the milter,"
	echo "of every process of the Postfix instance, of smtp-source, and of all"
	echo "three.  by_cpu: the null milter's total over this one, the rate ratio to"
	echo "expect while the CPUs are the limit; it moves less with other work on"
	echo "the machine than the measured ratio.  busy%: the whole machine's CPU use"
	echo "during the turn (other work on it included)."
	echo
	# shellcheck disable=SC2046,SC2086
	for kind in smime pgp; do
		taken "$kind" || continue
		r=$(median $(ratios "$kind" null))
		awk -v k="$kind" -v r="$r" 'BEGIN {
			printf "goal: smilla encrypting %s at >= 0.90 of the null milter: %.2f, %s\n",
				k, r, (r >= 0.9) ? "met" : "NOT met"
		}'
	done
	# Postfix's share and smilla's: the replay against the null milter,
	# smilla against the replay (when both turns were taken).
	# shellcheck disable=SC2046,SC2086
	for kind in smime pgp; do
		{ taken "r$kind" && taken "$kind"; } || continue
		awk -v k="$kind" -v a="$(median $(ratios "r$kind" null))" \
		    -v b="$(median $(ratios "$kind" "r$kind"))" 'BEGIN {
			printf "%s: the MTA taking the changes (replay) %.2f of the null milter; smilla encrypting %.2f of the replay\n",
				k, a, b
		}'
	done
	report_tail smilla "$WORK/smilla.log"
}
exit "$RC"
