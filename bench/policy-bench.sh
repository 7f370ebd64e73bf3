#!/bin/bash
# policy-bench.sh - throughput and latency of smilla-policyd against a
# do-nothing policy server, on loopback, with the DNSSEC test bed.
#
#   bench/policy-bench.sh            (or: make bench)
#
# Runs with BENCH_CONNS (8) persistent connections over unix sockets:
#   (a) bench/null-policy: parses each request, answers DUNNO (baseline)
#   (b) smilla-policyd, cached pass decisions, log_level = warning
#   (c) as (b) while BENCH_STALL (1000) lookups hang at the blackhole
#   (d) as (b) with log_level = info, stderr to a file
# (a) and (b) take turns, BENCH_ROUNDS (5) rounds of BENCH_SLICE (2)
# seconds each, so that both see the same machine: the figures are the
# medians over the rounds, the throughput ratio the median of the
# rounds' ratios.  (c) and (d) run BENCH_SECONDS (5) after BENCH_WARMUP
# (1) seconds of warm-up.  Prints a table with the ratios (b)/(a)
# throughput and (c)/(b) p99.
# Exit status: 0 when no run had errors (and every stalled lookup of (c)
# stayed pending for the whole run, and every decision is in the
# reputation store), 1 otherwise, 2 on setup failure.
#
# Environment: SMILLA_BUILD (default ./build), BENCH_SECONDS,
# BENCH_WARMUP, BENCH_CONNS, BENCH_ROUNDS, BENCH_SLICE, BENCH_STALL,
# BENCH_KEEP=1 keeps the work
# directory (configs, daemon logs, databases) for a look afterwards.
#
# The helpers it shares with bench/milter-bench.sh are in bench/lib.sh.
set -u

PROG=policy-bench
# TOP, BUILD, SECS, WARM, CONNS (from the environment) and the helpers:
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "$0")/lib.sh"

STALL=${BENCH_STALL:-1000}
ROUNDS=${BENCH_ROUNDS:-5}
SLICE=${BENCH_SLICE:-2}
DNS_TIMEOUT=30
PD=$BUILD/smilla-policyd
LG=$BUILD/bench/loadgen
NP=$BUILD/bench/null-policy
STOP_SECS=5
START_SECS=5

# The measured runs: run TAG LABEL SERVER_PID loadgen-args... (in
# lib.sh, with -c -d -w added); the result line goes to RES_TAG with the
# server's CPU microseconds per answered request (warm-up included)
# appended as server_cpu_us.
LOADER=$LG
LOAD_OPTS=()
LOAD_FILES=loadgen
CPU_KEY=server_cpu_us CPU_PER=answered CPU_SCALE=1e6 CPU_FMT=%.2f
LOAD_FAILED="requests=0 rps=0 p50_us=0 p99_us=0 p999_us=0 errors=1"
LOAD_BAD=""

RES_a="" RES_b="" RES_c="" RES_d=""

# ---------------------------------------------------------------- build

[ -x "$PD" ] || fail "$PD missing: run make first"
build_prog loadgen -lpthread
build_prog null-policy -lpthread

# ---------------------------------------------------------------- helpers

# Called by load (lib.sh) while loadgen runs: with MID_FDS=1 the server's open
# descriptors are counted half-way through the measurement (into
# FDS_MID).
during_load() {
	if [ "${MID_FDS:-}" = 1 ]; then
		sleep "$(awk -v w="$WARM" -v s="$SECS" 'BEGIN { print w + s / 2 }')"
		FDS_MID=$(find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
	fi
}

# rounds TAG: one result line for RES_TAG1 .. RES_TAG$ROUNDS, the median
# of each figure, the sum of errors, answered and requests, and the
# server CPU per answer over all of them.
rounds() {
	local k r v vals line="" cpu=0 ans=0
	for k in rps p50_us p99_us p999_us; do
		vals=""
		for r in $(seq 1 "$ROUNDS"); do
			v=RES_$1$r
			vals="$vals $(field "${!v}" "$k")"
		done
		line="$line $k=$(median $vals)"
	done
	for k in errors answered requests; do
		v=0
		for r in $(seq 1 "$ROUNDS"); do
			vals=RES_$1$r
			v=$((v + $(field "${!vals}" "$k")))
		done
		line="$line $k=$v"
	done
	for r in $(seq 1 "$ROUNDS"); do
		v=RES_$1$r
		cpu=$(awk -v c="$cpu" -v x="$(field "${!v}" server_cpu_us)" \
			-v n="$(field "${!v}" answered)" 'BEGIN { print c + x * n }')
		ans=$((ans + $(field "${!v}" answered)))
	done
	line="$line server_cpu_us=$(awk -v c="$cpu" -v n="$ans" 'BEGIN { printf "%.2f", n ? c / n : 0 }')"
	echo "${line# }"
}

# rep_check WHAT DB LOG ANSWERED: are the ANSWERED decisions all in the
# reputation store DB?  Sets REP_TXT; a shortfall or a drop logged in
# LOG sets RC=1.
rep_check() {
	local got rows dropped
	got=$(sqlite3 "$2" "select coalesce(sum(count), 0) from rep_events" 2>/dev/null)
	rows=$(sqlite3 "$2" "select count(*) from rep_events" 2>/dev/null)
	dropped=$(grep -c 'reputation store behind' "$3")
	REP_TXT="$got decisions recorded in $rows rows, $4 answered, $dropped drop warnings"
	if [ "${got:-0}" != "$4" ] || [ "$dropped" != 0 ]; then
		REP_TXT="$REP_TXT: NOT ALL RECORDED"
		RC=1
	fi
	say "$1 reputation store: $REP_TXT"
}

# ---------------------------------------------------------------- setup

bench_setup smilla-bench

# The bed's resolver settings plus ours (later keys would win anyway;
# dropping them keeps the file unambiguous).
write_conf() { # FILE SOCKET DB LOG_LEVEL
	{
		grep -vE '^[[:space:]]*(listen|log|log_level|db_path|max_inflight|dns_timeout)[[:space:]]*=' \
			"$WORK/bed/smilla.conf"
		echo "listen = unix:$2"
		echo "log = stderr"
		echo "log_level = $4"
		echo "db_path = $3"
		echo "max_inflight = 2000"
		echo "dns_timeout = $DNS_TIMEOUT"
		echo "authserv_id = mx.smilla.test"
	} >"$1"
}
write_conf "$WORK/policyd.conf" "$WORK/policyd.sock" "$WORK/policyd.db" warning
write_conf "$WORK/policyd-info.conf" "$WORK/policyd-info.sock" \
	"$WORK/policyd-info.db" info

REQ=(-H good.smilla.test -F "$GOOD_CERT_SHA256_COLON" -K "$GOOD_SPKI_SHA256_COLON")
PASS='action=PREPEND DANE-Client-Auth: pass ('

# ---------------------------------------------------------------- runs

start_daemon null-policy "$WORK/null.sock" "$WORK/null.log" \
	"$NP" -u "$WORK/null.sock"
NULL_PID=$DPID
start_daemon smilla-policyd "$WORK/policyd.sock" "$WORK/policyd.log" \
	"$PD" -c "$WORK/policyd.conf"
PD_PID=$DPID

# (a) and (b) in turns: a slow patch of the shared machine hits both.
# The first turn of each has the full warm-up (and makes the daemon's
# one DNS lookup); later turns a short one for the new connections.
RATIOS=""
for r in $(seq 1 "$ROUNDS"); do
	w=0.3
	[ "$r" = 1 ] && w=$WARM
	say "round $r of $ROUNDS: (a) null-policy, (b) smilla-policyd, ${SLICE}s each ..."
	load "a$r" "$NULL_PID" -c "$CONNS" -d "$SLICE" -w "$w" \
		-u "$WORK/null.sock" "${REQ[@]}" -P 'action=DUNNO'
	load "b$r" "$PD_PID" -c "$CONNS" -d "$SLICE" -w "$w" \
		-u "$WORK/policyd.sock" "${REQ[@]}" -P "$PASS"
	ra=RES_a$r rb=RES_b$r
	RATIOS="$RATIOS $(awk -v a="$(field "${!ra}" rps)" -v b="$(field "${!rb}" rps)" \
		'BEGIN { printf "%.3f", (a > 0 ? b / a : 0) }')"
done
RES_a=$(rounds a)
RES_b=$(rounds b)
RATIO_AB=$(median $RATIOS)
stop_daemon "$NULL_PID"

# (c): the daemon's open descriptors half-way through show the stalled
# connections are held; loadgen's stall_pending / stall_age_s (checked
# below) show none of them was answered while it ran.
FDS_MID="?" PROBE_TXT="not run"
MID_FDS=1 run c "as (b) with $STALL lookups hanging" "$PD_PID" \
	-u "$WORK/policyd.sock" "${REQ[@]}" -P "$PASS" -s "$STALL"
# Probe, not one of the measured runs: the stalled lookups are still in
# flight (their clients are gone, the daemon keeps the lookups until
# dns_timeout); how long does one uncached lookup of a healthy name
# take now?  At most 5 s are waited.
say "probe: one uncached lookup (cert.smilla.test) while the stalled ones hang ..."
bg_run "$WORK/probe.out" "$WORK/probe.err" \
	"$LG" -u "$WORK/policyd.sock" -c 1 -n 1 -w 0 -H cert.smilla.test \
	-F "$GOOD_CERT_SHA256_COLON" -K "$GOOD_SPKI_SHA256_COLON" -P "$PASS"
bg_wait "$BGPID"
PROBE=$(head -n 1 "$WORK/probe.out")
echo "    $PROBE" >&2
if [ "$(field "$PROBE" samples)" = 1 ] && [ "$(field "$PROBE" errors)" = 0 ]; then
	PROBE_TXT="answered (pass) in $(field "$PROBE" max_us) us"
elif [ "$(field "$PROBE" err_timeout)" = 1 ]; then
	PROBE_TXT="NO ANSWER within 5 s (lookups of healthy names starve behind the hanging ones)"
else
	PROBE_TXT="unexpected: $(head -n 1 "$WORK/probe.err")"
fi
stop_daemon "$PD_PID"
# Every decision of (b), (c) and the probe must be in the reputation
# store (written when the daemon stops): rows merge decisions alike
# within a second, their counts must add up.
rep_check "(b)+(c)" "$WORK/policyd.db" "$WORK/policyd.log" \
	$(( $(field "$RES_b" answered) + $(field "$RES_c" answered) + $(field "$PROBE" answered) ))
REP_bc=$REP_TXT

start_daemon smilla-policyd "$WORK/policyd-info.sock" "$WORK/policyd-info.log" \
	"$PD" -c "$WORK/policyd-info.conf"
INFO_PID=$DPID
LOG_BYTES0=$(stat -c %s "$WORK/policyd-info.log")
run d "as (b) with log_level = info to a file" "$INFO_PID" \
	-u "$WORK/policyd-info.sock" "${REQ[@]}" -P "$PASS"
LOG_BYTES=$(( $(stat -c %s "$WORK/policyd-info.log") - LOG_BYTES0 ))
LOG_LINES=$(grep -c ' result=pass ' "$WORK/policyd-info.log")
stop_daemon "$INFO_PID"
rep_check "(d)" "$WORK/policyd-info.db" "$WORK/policyd-info.log" \
	"$(field "$RES_d" answered)"
REP_d=$REP_TXT

# ---------------------------------------------------------------- report

# The stalled lookups must have hung for the whole of (c).
STALL_PENDING=$(field "$RES_c" stall_pending)
STALL_AGE=$(field "$RES_c" stall_age_s)
STALL_OK=no
if [ "$STALL" = 0 ]; then
	STALL_OK=yes
elif [ "${STALL_PENDING:-0}" = "$STALL" ] &&
   awk -v a="${STALL_AGE:-99}" -v t="$DNS_TIMEOUT" 'BEGIN { exit !(a < t) }'; then
	STALL_OK=yes
else
	RC=1
fi

T1=$(date +%s.%N)
{
	echo
	echo "smilla-policyd benchmark: $CONNS connections, unix sockets; (a)/(b) $ROUNDS rounds of ${SLICE}s in turns, (c), (d) ${SECS}s after ${WARM}s warm-up"
	echo "host: $(nproc) CPUs, $(uname -sr)"
	echo
	printf '%-38s %8s %7s %7s %9s %7s %6s\n' run rps p50_us p99_us p99.9_us cpu_us errors
	for t in a b c d; do
		v=RES_$t
		case $t in
		a) label="(a) null-policy (baseline)" ;;
		b) label="(b) smilla-policyd, cached pass" ;;
		c) label="(c) (b) + $STALL hanging lookups" ;;
		d) label="(d) (b) with log_level = info" ;;
		esac
		printf '%-38s %8s %7s %7s %9s %7s %6s\n' "$label" \
			"$(field "${!v}" rps)" "$(field "${!v}" p50_us)" \
			"$(field "${!v}" p99_us)" "$(field "${!v}" p999_us)" \
			"$(field "${!v}" server_cpu_us)" "$(field "${!v}" errors)"
	done
	echo
	awk -v r="$RATIO_AB" -v b="$(field "$RES_b" rps)" \
	    -v c="$(field "$RES_c" rps)" -v d="$(field "$RES_d" rps)" \
	    -v b99="$(field "$RES_b" p99_us)" -v c99="$(field "$RES_c" p99_us)" \
	    -v b50="$(field "$RES_b" p50_us)" -v c50="$(field "$RES_c" p50_us)" \
	    -v d99="$(field "$RES_d" p99_us)" 'BEGIN {
		ok1 = (r >= 0.80) ? "met" : "NOT met"
		ok2 = (b99 < 1000) ? "met" : "NOT met"
		cb99 = (b99 > 0) ? c99 / b99 : 0
		cb50 = (b50 > 0) ? c50 / b50 : 0
		cb = (b > 0) ? c / b : 0
		db = (b > 0) ? d / b : 0
		db99 = (b99 > 0) ? d99 / b99 : 0
		printf "(b)/(a) throughput   %6.2f     goal >= 0.80: %s (median of the rounds)\n", r, ok1
		printf "(b) p99              %6d us  goal < 1000 us: %s\n", b99, ok2
		printf "(c)/(b) p99          %6.2f     (p50 %.2f, throughput %.2f)\n", cb99, cb50, cb
		printf "(d)/(b) throughput   %6.2f     (p99 %.2f)\n", db, db99
	}'
	echo
	echo "(a), (b): medians of $ROUNDS rounds of ${SLICE}s taken in turns; (b)/(a) per round:$RATIOS"
	echo "cpu_us: CPU time of the policy server (all its threads) per answered request."
	echo "(c) stalled lookups: $STALL_PENDING of $STALL still unanswered at the end," \
	     "sent ${STALL_AGE}s before it (dns_timeout $DNS_TIMEOUT s):" \
	     "$([ "$STALL_OK" = yes ] && echo "in flight for the whole run" || echo "NOT VALID")"
	echo "(c) daemon descriptors half-way through the run: $FDS_MID"
	echo "probe after (c), uncached lookup of a healthy name with $STALL lookups hanging: $PROBE_TXT"
	echo "(b)+(c) reputation store: $REP_bc"
	echo "(d) reputation store: $REP_d"
	echo "(d) info log (warm-up included): $LOG_LINES decision lines, $LOG_BYTES bytes" \
	     "($(awk -v b="$LOG_BYTES" -v n="$LOG_LINES" 'BEGIN { printf "%.0f", n ? b / n : 0 }') bytes a line)"
	echo
	echo "raw:"
	for t in $(for r in $(seq 1 "$ROUNDS"); do echo "a$r b$r"; done) c d; do
		v=RES_$t
		echo "($t) ${!v}"
	done
	report_end
}
exit "$RC"
