#!/bin/bash
# policy-bench.sh - throughput and latency of smilla-policyd against a
# do-nothing policy server, on loopback, with the DNSSEC test bed.
#
#   bench/policy-bench.sh            (or: make bench)
#
# Runs, each BENCH_SECONDS (5) after BENCH_WARMUP (1) seconds of
# warm-up, with BENCH_CONNS (8) persistent connections over unix
# sockets:
#   (a) bench/null-policy: parses each request, answers DUNNO (baseline)
#   (b) smilla-policyd, cached pass decisions, log_level = warning
#   (c) as (b) while BENCH_STALL (1000) lookups hang at the blackhole
#   (d) as (b) with log_level = info, stderr to a file
# and prints a table with the ratios (b)/(a) throughput and (c)/(b) p99.
# Exit status: 0 when no run had errors (and every stalled lookup of (c)
# stayed pending for the whole run), 1 otherwise, 2 on setup failure.
#
# Environment: SMILLA_BUILD (default ./build), BENCH_SECONDS,
# BENCH_WARMUP, BENCH_CONNS, BENCH_STALL, BENCH_KEEP=1 keeps the work
# directory (configs, daemon logs, databases) for a look afterwards.
#
# The helpers it shares with bench/milter-bench.sh are in bench/lib.sh.
set -u

PROG=policy-bench
# TOP, BUILD, SECS, WARM, CONNS (from the environment) and the helpers:
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "$0")/lib.sh"

STALL=${BENCH_STALL:-1000}
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
run a "null-policy baseline" "$NULL_PID" -u "$WORK/null.sock" "${REQ[@]}" -P 'action=DUNNO'
stop_daemon "$NULL_PID"

start_daemon smilla-policyd "$WORK/policyd.sock" "$WORK/policyd.log" \
	"$PD" -c "$WORK/policyd.conf"
PD_PID=$DPID
run b "smilla-policyd, cached pass decisions" "$PD_PID" \
	-u "$WORK/policyd.sock" "${REQ[@]}" -P "$PASS"

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

start_daemon smilla-policyd "$WORK/policyd-info.sock" "$WORK/policyd-info.log" \
	"$PD" -c "$WORK/policyd-info.conf"
INFO_PID=$DPID
LOG_BYTES0=$(stat -c %s "$WORK/policyd-info.log")
run d "as (b) with log_level = info to a file" "$INFO_PID" \
	-u "$WORK/policyd-info.sock" "${REQ[@]}" -P "$PASS"
LOG_BYTES=$(( $(stat -c %s "$WORK/policyd-info.log") - LOG_BYTES0 ))
LOG_LINES=$(grep -c ' result=pass ' "$WORK/policyd-info.log")
stop_daemon "$INFO_PID"

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
	echo "smilla-policyd benchmark: $CONNS connections, ${SECS}s after ${WARM}s warm-up, unix sockets"
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
	awk -v a="$(field "$RES_a" rps)" -v b="$(field "$RES_b" rps)" \
	    -v c="$(field "$RES_c" rps)" -v d="$(field "$RES_d" rps)" \
	    -v b99="$(field "$RES_b" p99_us)" -v c99="$(field "$RES_c" p99_us)" \
	    -v b50="$(field "$RES_b" p50_us)" -v c50="$(field "$RES_c" p50_us)" \
	    -v d99="$(field "$RES_d" p99_us)" 'BEGIN {
		r = (a > 0) ? b / a : 0
		ok1 = (r >= 0.80) ? "met" : "NOT met"
		ok2 = (b99 < 1000) ? "met" : "NOT met"
		cb99 = (b99 > 0) ? c99 / b99 : 0
		cb50 = (b50 > 0) ? c50 / b50 : 0
		cb = (b > 0) ? c / b : 0
		db = (b > 0) ? d / b : 0
		db99 = (b99 > 0) ? d99 / b99 : 0
		printf "(b)/(a) throughput   %6.2f     goal >= 0.80: %s\n", r, ok1
		printf "(b) p99              %6d us  goal < 1000 us: %s\n", b99, ok2
		printf "(c)/(b) p99          %6.2f     (p50 %.2f, throughput %.2f)\n", cb99, cb50, cb
		printf "(d)/(b) throughput   %6.2f     (p99 %.2f)\n", db, db99
	}'
	echo
	echo "cpu_us: CPU time of the policy server (all its threads) per answered request."
	echo "(c) stalled lookups: $STALL_PENDING of $STALL still unanswered at the end," \
	     "sent ${STALL_AGE}s before it (dns_timeout $DNS_TIMEOUT s):" \
	     "$([ "$STALL_OK" = yes ] && echo "in flight for the whole run" || echo "NOT VALID")"
	echo "(c) daemon descriptors half-way through the run: $FDS_MID"
	echo "probe after (c), uncached lookup of a healthy name with $STALL lookups hanging: $PROBE_TXT"
	echo "(d) info log (warm-up included): $LOG_LINES decision lines, $LOG_BYTES bytes" \
	     "($(awk -v b="$LOG_BYTES" -v n="$LOG_LINES" 'BEGIN { printf "%.0f", n ? b / n : 0 }') bytes a line)"
	echo
	echo "raw:"
	for t in a b c d; do
		v=RES_$t
		echo "($t) ${!v}"
	done
	report_end
}
exit "$RC"
