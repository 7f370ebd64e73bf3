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
set -u

TOP=$(cd "$(dirname "$0")/.." && pwd -P)
BUILD=${SMILLA_BUILD:-$TOP/build}
SECS=${BENCH_SECONDS:-5}
WARM=${BENCH_WARMUP:-1}
CONNS=${BENCH_CONNS:-8}
STALL=${BENCH_STALL:-1000}
DNS_TIMEOUT=30
PD=$BUILD/smilla-policyd
LG=$BUILD/bench/loadgen
NP=$BUILD/bench/null-policy
PROG=policy-bench

WORK=""
PIDS=""
BED_UP=""
RC=0
RES_a="" RES_b="" RES_c="" RES_d=""

say() { echo "$PROG: $*" >&2; }
fail() {
	say "$*"
	exit 2
}

# ---------------------------------------------------------------- cleanup

# Stop one process we started: TERM, up to 5 s, then KILL.
stop_pid() {
	local p=$1 _
	kill -0 "$p" 2>/dev/null || { wait "$p" 2>/dev/null; return 0; }
	kill -TERM "$p" 2>/dev/null
	for _ in $(seq 1 50); do
		kill -0 "$p" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$p" 2>/dev/null
	wait "$p" 2>/dev/null
	return 0
}

# shellcheck disable=SC2317 # called from the EXIT trap
cleanup() {
	local p
	trap '' INT TERM
	for p in $PIDS; do
		stop_pid "$p"
	done
	PIDS=""
	if [ -n "$BED_UP" ]; then
		"$TOP/tests/bed/bed.sh" stop "$WORK/bed" >/dev/null 2>&1 ||
			say "bed stop failed (see $WORK/bed/bed.log)"
		BED_UP=""
	fi
	if [ -n "$WORK" ] && [ -d "$WORK" ]; then
		if [ "${BENCH_KEEP:-}" = 1 ]; then
			say "work directory kept: $WORK"
		else
			rm -rf "$WORK"
		fi
	fi
}
# shellcheck disable=SC2317 # the EXIT trap
on_exit() {
	local st=$?
	cleanup
	exit "$st"
}
trap on_exit EXIT
trap 'RC=130; exit 130' INT
trap 'RC=143; exit 143' TERM

# ---------------------------------------------------------------- build

[ -x "$PD" ] || fail "$PD missing: run make first"
for prog in loadgen null-policy; do
	if [ ! -x "$BUILD/bench/$prog" ] ||
	   [ "$TOP/bench/$prog.c" -nt "$BUILD/bench/$prog" ]; then
		mkdir -p "$BUILD/bench" || fail "cannot create $BUILD/bench"
		${CC:-cc} -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror \
			-o "$BUILD/bench/$prog" "$TOP/bench/$prog.c" -lpthread ||
			fail "cannot build $prog"
	fi
done

# ---------------------------------------------------------------- helpers

# Start a daemon in the background: start_daemon NAME SOCKET LOG CMD...
# Waits until SOCKET exists; sets DPID.
start_daemon() {
	local name=$1 sock=$2 log=$3 _
	shift 3
	rm -f "$sock"
	"$@" </dev/null >>"$log" 2>&1 &
	DPID=$!
	PIDS="$PIDS $DPID"
	for _ in $(seq 1 100); do
		[ -S "$sock" ] && return 0
		kill -0 "$DPID" 2>/dev/null || break
		sleep 0.05
	done
	say "$name did not come up on $sock; its log:"
	tail -n 20 "$log" >&2
	exit 2
}

# Drop pid $1 from the list cleanup stops.
forget_pid() {
	local q keep=""
	for q in $PIDS; do
		[ "$q" = "$1" ] || keep="$keep $q"
	done
	PIDS=$keep
}

# Stop a daemon started by start_daemon and forget its pid.
stop_daemon() {
	stop_pid "$1"
	forget_pid "$1"
}

# Value of KEY in a loadgen result line.
field() {
	printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n 1
}

# CPU time (user + system, in clock ticks) of process $1 so far.
cpu_ticks() {
	sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | awk '{ print $12 + $13 }'
}
TICK=$(getconf CLK_TCK)

# run TAG LABEL SERVER_PID loadgen-args...: one measured run; the
# result line goes to RES_TAG, with the server's CPU microseconds per
# answered request (warm-up included) appended as server_cpu_us.  With
# MID_FDS=1 the server's open descriptors are counted half-way through
# the measurement (into FDS_MID).  loadgen runs in the background so
# that a signal stops everything at once.
run() {
	local tag=$1 label=$2 spid=$3 out rc c0 c1 lg
	shift 3
	say "run ($tag) $label ..."
	c0=$(cpu_ticks "$spid")
	"$LG" -c "$CONNS" -d "$SECS" -w "$WARM" "$@" \
		>"$WORK/loadgen-$tag.out" 2>"$WORK/loadgen-$tag.err" &
	lg=$!
	PIDS="$PIDS $lg"
	if [ "${MID_FDS:-}" = 1 ]; then
		sleep "$(awk -v w="$WARM" -v s="$SECS" 'BEGIN { print w + s / 2 }')"
		FDS_MID=$(find "/proc/$spid/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
	fi
	wait "$lg"
	rc=$?
	forget_pid "$lg"
	c1=$(cpu_ticks "$spid")
	out=$(head -n 1 "$WORK/loadgen-$tag.out")
	if [ -n "$out" ] && [ -n "$c0" ] && [ -n "$c1" ]; then
		out="$out server_cpu_us=$(awk -v d="$((c1 - c0))" -v t="$TICK" \
			-v n="$(field "$out" answered)" \
			'BEGIN { v = (n > 0) ? d * 1e6 / t / n : 0; printf "%.2f", v }')"
	fi
	if [ -s "$WORK/loadgen-$tag.err" ]; then
		sed 's/^/    /' "$WORK/loadgen-$tag.err" | head -n 10 >&2
	fi
	if [ -z "$out" ]; then
		say "($tag): loadgen failed (exit $rc)"
		out="requests=0 rps=0 p50_us=0 p99_us=0 p999_us=0 errors=1"
		RC=1
	elif [ "$rc" -ne 0 ]; then
		RC=1
	fi
	echo "    $out" >&2
	printf -v "RES_$tag" '%s' "$out"
}

# ---------------------------------------------------------------- setup

WORK=$(mktemp -d /tmp/smilla-bench.XXXXXX) || fail "mktemp failed"
T0=$(date +%s.%N)
say "starting the DNSSEC test bed"
BED_UP=1
"$TOP/tests/bed/bed.sh" start "$WORK/bed" >"$WORK/bed.out" 2>&1 || {
	cat "$WORK/bed.out" >&2
	fail "test bed did not start"
}
# shellcheck disable=SC1091
. "$WORK/bed/bed.env"

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
"$LG" -u "$WORK/policyd.sock" -c 1 -n 1 -w 0 -H cert.smilla.test \
	-F "$GOOD_CERT_SHA256_COLON" -K "$GOOD_SPKI_SHA256_COLON" -P "$PASS" \
	>"$WORK/probe.out" 2>"$WORK/probe.err" &
LGP=$!
PIDS="$PIDS $LGP"
wait "$LGP"
forget_pid "$LGP"
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
	awk -v t0="$T0" -v t1="$T1" 'BEGIN { printf "total %.1f s\n", t1 - t0 }'
	[ "$RC" -eq 0 ] && echo "result: no errors" || echo "result: ERRORS (see above)"
}
exit "$RC"
