# lib.sh - shell helpers shared by bench/policy-bench.sh and
# bench/milter-bench.sh; sourced, not run.
#
# Sourcing it sets
#   TOP         the source tree (the parent of the script's directory)
#   BUILD       the build tree, SMILLA_BUILD or $TOP/build (the bench
#               binaries go to $BUILD/bench)
#   SECS, WARM, CONNS   measured seconds, warm-up seconds and
#               connections of a run: BENCH_SECONDS (5), BENCH_WARMUP (1),
#               BENCH_CONNS (8)
#   WORK, PIDS, BED_UP, RC, TICK
# and installs the EXIT, INT and TERM traps: on exit every process in
# PIDS is stopped, the test bed stopped and the work directory removed
# (BENCH_KEEP=1 keeps it).
#
# The script sets:
#   PROG        its name, for messages
#   STOP_SECS   how long stop_pid waits after TERM before KILL
#   START_SECS  how long start_daemon waits for the socket
# and, before calling run or load:
#   LOADER      the load generator (bench/loadgen, bench/milter-load)
#   LOAD_OPTS   array: options every run passes to it (after -c -d -w)
#   LOAD_FILES  its output goes to $WORK/$LOAD_FILES-TAG.out and .err
#   CPU_KEY, CPU_PER, CPU_SCALE, CPU_FMT: the server's CPU time per
#               CPU_PER (a field of the result line), in 1/CPU_SCALE
#               seconds, printed with CPU_FMT, appended as CPU_KEY=
#   LOAD_FAILED the result line used when the load generator gave none
#   LOAD_BAD    with a nonzero exit: say "(TAG): $LOAD_BAD (exit N)"
#               (empty: nothing said)
# and may define during_load SERVER_PID, called while a load runs, and
# bench_cleanup, called on exit before the processes are stopped.

# shellcheck shell=bash

TOP=$(cd "$(dirname "$0")/.." && pwd -P)
BUILD=${SMILLA_BUILD:-$TOP/build}
SECS=${BENCH_SECONDS:-5}
WARM=${BENCH_WARMUP:-1}
CONNS=${BENCH_CONNS:-8}

WORK=""
PIDS=""
BED_UP=""
RC=0

say() { echo "$PROG: $*" >&2; }
fail() {
	say "$*"
	exit 2
}

# ---------------------------------------------------------------- cleanup

# Stop one process we started: TERM, up to STOP_SECS, then KILL.
stop_pid() {
	local p=$1 _
	kill -0 "$p" 2>/dev/null || { wait "$p" 2>/dev/null; return 0; }
	kill -TERM "$p" 2>/dev/null
	for _ in $(seq 1 $((STOP_SECS * 10))); do
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
	if declare -F bench_cleanup >/dev/null; then
		bench_cleanup
	fi
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

# build_prog NAME LIBS...: (re)build $BUILD/bench/NAME from bench/NAME.c
# when it is missing or older than its source or bench/benchutil.h.
build_prog() {
	local name=$1 bin=$BUILD/bench/$1 src=$TOP/bench/$1.c
	shift
	if [ ! -x "$bin" ] || [ "$src" -nt "$bin" ] ||
	   [ "$TOP/bench/benchutil.h" -nt "$bin" ]; then
		mkdir -p "$BUILD/bench" || fail "cannot create $BUILD/bench"
		${CC:-cc} -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror \
			-o "$bin" "$src" "$@" ||
			fail "cannot build $name"
	fi
}

# ---------------------------------------------------------------- processes

# Start a daemon in the background: start_daemon NAME SOCKET LOG CMD...
# Waits up to START_SECS until SOCKET exists; sets DPID.
start_daemon() {
	local name=$1 sock=$2 log=$3 _
	shift 3
	rm -f "$sock"
	"$@" </dev/null >>"$log" 2>&1 &
	DPID=$!
	PIDS="$PIDS $DPID"
	for _ in $(seq 1 $((START_SECS * 20))); do
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

# bg_run OUT ERR CMD...: CMD in the background (so that a signal stops
# everything at once), stdout to OUT, stderr to ERR; sets BGPID.
bg_run() {
	local out=$1 err=$2
	shift 2
	"$@" >"$out" 2>"$err" &
	BGPID=$!
	PIDS="$PIDS $BGPID"
}

# bg_wait PID: wait for a process started by bg_run, forget it; its
# exit status.
bg_wait() {
	local rc
	wait "$1"
	rc=$?
	forget_pid "$1"
	return "$rc"
}

# ---------------------------------------------------------------- results

# Value of KEY in a load generator's result line: field LINE KEY.
field() {
	printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n 1
}

# median NUMBERS...: their median (the lower middle one of an even
# count: always a figure that was measured).
median() {
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

# The load averages (1, 5, 15 min) of the machine now: the benchmarks
# share it with whatever else runs, and say how busy it was.
loadavg() {
	cut -d' ' -f1-3 /proc/loadavg
}

# CPU time (user + system, all threads, in clock ticks) of process $1
# so far.
cpu_ticks() {
	sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | awk '{ print $12 + $13 }'
}
TICK=$(getconf CLK_TCK)

# load TAG SERVER_PID ARGS...: one call of LOADER with ARGS, in the
# background (see bg_run); its result line goes to RES_TAG with CPU_KEY
# (the server's CPU per CPU_PER, warm-up included) appended.
# during_load, when defined, runs while LOADER does.  No result line or
# a nonzero exit (errors) sets RC=1.
load() {
	local tag=$1 spid=$2 out rc c0 c1 lg
	local base=$WORK/$LOAD_FILES-$1
	shift 2
	c0=$(cpu_ticks "$spid")
	bg_run "$base.out" "$base.err" "$LOADER" "$@"
	lg=$BGPID
	if declare -F during_load >/dev/null; then
		during_load "$spid"
	fi
	bg_wait "$lg"
	rc=$?
	c1=$(cpu_ticks "$spid")
	out=$(head -n 1 "$base.out")
	if [ -n "$out" ] && [ -n "$c0" ] && [ -n "$c1" ]; then
		out="$out $CPU_KEY=$(awk -v d="$((c1 - c0))" -v t="$TICK" \
			-v n="$(field "$out" "$CPU_PER")" -v s="$CPU_SCALE" \
			-v f="$CPU_FMT" \
			'BEGIN { v = (n > 0) ? d * s / t / n : 0; printf f, v }')"
	fi
	if [ -s "$base.err" ]; then
		sed 's/^/    /' "$base.err" | head -n 10 >&2
	fi
	if [ -z "$out" ]; then
		say "($tag): ${LOADER##*/} failed (exit $rc)"
		out=$LOAD_FAILED
		RC=1
	elif [ "$rc" -ne 0 ]; then
		[ -n "$LOAD_BAD" ] && say "($tag): $LOAD_BAD (exit $rc)"
		RC=1
	fi
	echo "    $out" >&2
	printf -v "RES_$tag" '%s' "$out"
}

# run TAG LABEL SERVER_PID args...: a measured run of LOADER, CONNS
# connections, SECS seconds after WARM seconds of warm-up.
run() {
	local tag=$1 label=$2 spid=$3
	shift 3
	say "run ($tag) $label ..."
	load "$tag" "$spid" -c "$CONNS" -d "$SECS" -w "$WARM" \
		${LOAD_OPTS[@]+"${LOAD_OPTS[@]}"} "$@"
}

# ---------------------------------------------------------------- setup

# bench_setup NAME: the work directory /tmp/NAME.XXXXXX (WORK), the
# start time (T0), and the DNSSEC test bed in $WORK/bed, its bed.env
# sourced.
bench_setup() {
	WORK=$(mktemp -d "/tmp/$1.XXXXXX") || fail "mktemp failed"
	T0=$(date +%s.%N)
	say "starting the DNSSEC test bed"
	BED_UP=1
	"$TOP/tests/bed/bed.sh" start "$WORK/bed" >"$WORK/bed.out" 2>&1 || {
		cat "$WORK/bed.out" >&2
		fail "test bed did not start"
	}
	# shellcheck disable=SC1091
	. "$WORK/bed/bed.env"
}

# smilla_conf [LINE...]: $WORK/smilla.conf for a benchmark's smilla:
# the bed's smilla.conf (trust anchor, unbound.conf, dns_timeout) with
# its socket, pid file and database in WORK, the log on stderr at
# log_level = warning (no line per message), authserv_id
# mx.smilla.test, and the "key = value" LINEs, which replace the bed's
# lines of the same keys.
smilla_conf() {
	local keys="milter_socket|pid_file|log|log_level|db_path|authserv_id" l
	for l in "$@"; do
		keys="$keys|${l%%[ =]*}"
	done
	{
		grep -vE "^[[:space:]]*($keys)[[:space:]]*=" "$WORK/bed/smilla.conf"
		echo "milter_socket = unix:$WORK/smilla.sock"
		echo "pid_file = $WORK/smilla.pid"
		echo "log = stderr"
		echo "log_level = warning"
		echo "db_path = $WORK/smilla.db"
		echo "authserv_id = mx.smilla.test"
		printf '%s\n' "$@"
	} >"$WORK/smilla.conf"
}

# ---------------------------------------------------------------- report

# bad TEXT: a failed check, said now and listed at the end of the
# report (NOTES); the exit status becomes 1.
NOTES=""
bad() {
	say "CHECK FAILED: $*"
	NOTES="$NOTES
CHECK FAILED: $*"
	RC=1
}

# report_tail NAME LOG: the end of a milter report: how many lines
# NAME's LOG (log_level = warning) holds and the first ten, the notes,
# every RES_ result line, then report_end.
report_tail() {
	local n v
	n=$(grep -c . "$2")
	echo "$1 log (log_level = warning): $n lines"
	[ "$n" -gt 0 ] && sed 's/^/  | /' "$2" | head -n 10
	[ -n "$NOTES" ] && echo "$NOTES"
	echo
	echo "raw:"
	for v in $(compgen -v RES_); do
		echo "(${v#RES_}) ${!v}"
	done
	report_end
}

# The last lines of a report: the time from T0 to T1, and the result.
report_end() {
	awk -v t0="$T0" -v t1="$T1" 'BEGIN { printf "total %.1f s\n", t1 - t0 }'
	[ "$RC" -eq 0 ] && echo "result: no errors" || echo "result: ERRORS (see above)"
}
