#!/bin/bash
# slowloris-bench.sh - smilla-policyd under a slowloris attack, in
# numbers: a flood of uncached identities whose lookups hang, idle and
# half-sent connections up to the connection cap, while cached and
# uncached legitimate clients are measured.
#
#   bench/slowloris-bench.sh         (run by make bench)
#
# For each descriptor limit of BENCH_LIMITS ("65536 1024": the
# systemd unit's LimitNOFILE and systemd's default soft limit; a limit
# above this machine's hard limit is lowered to it, and said), on a
# fresh daemon with max_inflight and max_connections sized from the
# limit (the defaults) and dns_timeout = 5 (the default):
#   before  8 cached clients (good.smilla.test, warmed), BENCH_SLICE s
#   attack  loadgen -f: 1.5 x max_inflight connections sending request
#           after request, each for a new name hN.slow.smilla.test
#           (the bed's blackhole never answers), every answer followed
#           by a 200 ms pause; loadgen -I / -h: idle and half-sent
#           connections, together with the rest max_connections plus
#           5 %, so the daemon works at its cap
#   during  the same cached load for BENCH_SLICE s, and BENCH_PROBES
#           legitimate uncached clients (freshNN.smilla.test, signed,
#           never asked before), one every 0.5 s, each retrying every
#           50 ms while the answer is "too many lookups in flight"
#   after   the same cached load again, once the attack is over
# A sampler reads the daemon's /proc every 0.25 s: descriptors, RSS,
# and the UDP sockets connected to the blackhole (/proc/net/udp), the
# lookups libunbound has out to it.
#
# Exit status 1 when a bound is broken: blackhole sockets above
# max_inflight, descriptors at the limit, connections above
# max_connections, RSS during the attack above BENCH_RSS_MB (256) MB,
# any error of a cached or legitimate client, a flood request left
# unanswered, a legitimate client not decided pass, the daemon not
# exiting 0 on SIGTERM, a decision missing from the reputation store,
# or the cached p99 during the attack at or above 1000 us (a loaded
# machine can miss that one: see the load average printed).  2 when
# setup failed.
#
# Environment: SMILLA_BUILD, BENCH_LIMITS, BENCH_SLICE (3), BENCH_FLOOD
# (attack seconds, 14), BENCH_PROBES (5, at most 10), BENCH_RSS_MB,
# BENCH_CONNS (8), BENCH_KEEP=1.
set -u

PROG=slowloris-bench
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "$0")/lib.sh"

LIMITS=${BENCH_LIMITS:-65536 1024}
SLICE=${BENCH_SLICE:-3}
FLOOD_SECS=${BENCH_FLOOD:-14}
PROBES=${BENCH_PROBES:-5}
RSS_MB=${BENCH_RSS_MB:-256}
DNS_TIMEOUT=5
FLOOD_GAP_MS=200
PD=$BUILD/smilla-policyd
LG=$BUILD/bench/loadgen
STOP_SECS=10
START_SECS=5
REFUSED='too many lookups in flight'

LOADER=$LG
LOAD_OPTS=()
LOAD_FILES=loadgen
CPU_KEY=server_cpu_us CPU_PER=answered CPU_SCALE=1e6 CPU_FMT=%.2f
LOAD_FAILED="requests=0 rps=0 p50_us=0 p99_us=0 p999_us=0 errors=1 answered=0"
LOAD_BAD=""

[ -x "$PD" ] || fail "$PD missing: run make first"
[ "$PROBES" -le 10 ] || fail "BENCH_PROBES: at most 10 (fresh01..fresh10)"
build_prog loadgen -lpthread

# ---------------------------------------------------------------- helpers

# sample PID BH_PORT FILE: every 0.25 s one line "SECONDS FDS BLACKHOLE_UDP
# RSS_KB" into FILE, until killed.
sample() {
	local port
	port=$(printf ':%04X' "$2")
	while :; do
		printf '%s %s %s %s\n' "$(date +%s.%N)" "$(fds "$1")" \
			"$(awk -v p="$port" '$3 ~ p "$"' /proc/net/udp | wc -l)" \
			"$(rss_kb "$1")"
		sleep 0.25
	done >"$3"
}

# peak FILE COLUMN [FROM [TO]]: the largest value of COLUMN (2 fds,
# 3 blackhole sockets, 4 RSS kB) in the samples taken from FROM to TO.
peak() {
	awk -v c="$2" -v f="${3:-0}" -v t="${4:-1e18}" \
		'$1 >= f && $1 <= t && $c > m { m = $c } END { print m + 0 }' "$1"
}

# fds PID, rss_kb PID: now.
fds() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }

# wait_fds PID at-least|at-most N SECS: until the daemon's descriptor
# count is that, at most SECS; 1 when it was not.
wait_fds() {
	local end=$(($(date +%s) + $4)) n
	while [ "$(date +%s)" -le "$end" ]; do
		n=$(fds "$1")
		case $2 in
		at-least) [ "$n" -ge "$3" ] && return 0 ;;
		at-most) [ "$n" -le "$3" ] && return 0 ;;
		esac
		sleep 0.1
	done
	return 1
}

# check OK TEXT: a bound, met (OK 1) or broken (bad, lib.sh), added to
# CHECKS for the report.
check() {
	if [ "$1" = 1 ]; then
		CHECKS="$CHECKS
  ok      $2"
	else
		CHECKS="$CHECKS
  BROKEN  $2"
		bad "$2"
	fi
}

lt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }' && echo 1 || echo 0; }
le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a <= b) }' && echo 1 || echo 0; }

# ---------------------------------------------------------------- setup

bench_setup smilla-slowloris
HARD=$(ulimit -Hn)
REQ=(-H good.smilla.test -F "$GOOD_CERT_SHA256_COLON" -K "$GOOD_SPKI_SHA256_COLON")
FP=(-F "$GOOD_CERT_SHA256_COLON" -K "$GOOD_SPKI_SHA256_COLON")
PASS='action=PREPEND DANE-Client-Auth: pass ('
REPORT=""

# The connections one loadgen may hold: the hard limit, less room for
# its own files.
per_proc() { echo $((HARD - 64)); }

# slowloris LIMIT: the whole run at descriptor limit LIMIT; appends its
# report to REPORT.
slowloris() {
	local want=$1 lim=$1 note="" w=$WORK/l$1 budget inflight conns
	local flood idle half rest pd st t_att0 t_att1 p pids="" per k
	local fds0 rss0 rss1 fds1 peak_fds peak_udp peak_rss rss_after i

	if [ "$lim" -gt "$HARD" ]; then
		lim=$HARD
		note=" (the hard limit here; $want cannot be set on this machine)"
	fi
	mkdir -p "$w"
	# The daemon's own sizing (smilla-policyd(8), CONNECTIONS).
	budget=$((lim - 64))
	inflight=$((budget / 4 < 1000 ? budget / 4 : 1000))
	conns=$((budget - inflight))
	flood=$((inflight * 3 / 2))
	rest=$((conns + conns / 20 - flood - CONNS - PROBES))
	half=$((rest / 2))
	idle=$((rest - half))
	# The flood and the half-sent connections share one loadgen.
	if [ $((flood + half)) -gt "$(per_proc)" ]; then
		idle=$((idle + half - ($(per_proc) - flood)))
		half=$(($(per_proc) - flood))
	fi
	say "limit $lim$note: max_inflight $inflight, max_connections $conns;" \
	    "attack: $flood flood, $idle idle, $half half-sent connections"

	{
		grep -vE '^[[:space:]]*(listen|log|log_level|db_path|dns_timeout|max_inflight|max_connections)[[:space:]]*=' \
			"$WORK/bed/smilla.conf"
		echo "listen = unix:$w/policyd.sock"
		echo "log = stderr"
		echo "log_level = notice"
		echo "db_path = $w/policyd.db"
		echo "dns_timeout = $DNS_TIMEOUT"
		echo "authserv_id = mx.smilla.test"
	} >"$w/policyd.conf"
	# ulimit in the subshell only: the daemon gets LIMIT, we keep ours.
	# shellcheck disable=SC2016 # expanded by that shell
	start_daemon smilla-policyd "$w/policyd.sock" "$w/policyd.log" \
		bash -c 'ulimit -n "$1" && exec "$2" -c "$3"' _ "$lim" "$PD" "$w/policyd.conf"
	pd=$DPID

	load "before$lim" "$pd" -c "$CONNS" -d "$SLICE" -w 1 \
		-u "$w/policyd.sock" "${REQ[@]}" -P "$PASS"
	fds0=$(fds "$pd") rss0=$(rss_kb "$pd")

	sample "$pd" "$BH_PORT" "$w/samples" &
	SAMPLER=$!
	PIDS="$PIDS $SAMPLER"

	# The attackers: the flood and the half-sent connections in one
	# loadgen, the idle ones spread over as many as the hard limit needs.
	t_att0=$(date +%s.%N)
	per=$(per_proc)
	bg_run "$w/attack0.out" "$w/attack0.err" "$LG" -u "$w/policyd.sock" \
		-c 0 -f "$flood" -i "$FLOOD_GAP_MS" -h "$half" -d "$FLOOD_SECS" \
		-D $((DNS_TIMEOUT + 5)) -H good.smilla.test "${FP[@]}" -R "$REFUSED"
	pids="$BGPID"
	rest=$idle
	i=1
	while [ "$rest" -gt 0 ]; do
		k=$((rest < per ? rest : per))
		bg_run "$w/attack$i.out" "$w/attack$i.err" "$LG" -u "$w/policyd.sock" \
			-c 0 -I "$k" -d "$FLOOD_SECS" -H good.smilla.test
		pids="$pids $BGPID"
		rest=$((rest - k))
		i=$((i + 1))
	done
	# At the cap: every connection the daemon may hold is taken.
	wait_fds "$pd" at-least "$conns" 30 ||
		say "limit $lim: the daemon's descriptors did not reach $conns"
	say "limit $lim: attack up after $(awk -v a="$t_att0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s ($(fds "$pd") descriptors)"

	# Legitimate uncached clients, one every 0.5 s, and the cached load.
	for i in $(seq 1 "$PROBES"); do
		(
			sleep "$(awk -v i="$i" 'BEGIN { print (i - 1) * 0.5 }')"
			exec "$LG" -u "$w/policyd.sock" -c 1 -n 1 -w 0 \
				-H "$(printf 'fresh%02d.smilla.test' "$i")" "${FP[@]}" \
				-P "$PASS" -R "$REFUSED" -G 50 -D 30
		) >"$w/probe$i.out" 2>"$w/probe$i.err" &
		PIDS="$PIDS $!"
		eval "PROBE_PID$i=$!"
	done
	load "during$lim" "$pd" -c "$CONNS" -d "$SLICE" -w 0.5 \
		-u "$w/policyd.sock" "${REQ[@]}" -P "$PASS"
	LOAD_AVG=$(loadavg)
	for i in $(seq 1 "$PROBES"); do
		p=PROBE_PID$i
		bg_wait "${!p}"
	done
	for p in $pids; do
		bg_wait "$p"
	done
	t_att1=$(date +%s.%N)
	# Back to where it was: the attackers' connections are gone.
	wait_fds "$pd" at-most $((fds0 + 8)) 30 ||
		say "limit $lim: descriptors still $(fds "$pd") after the attack"
	fds1=$(fds "$pd") rss1=$(rss_kb "$pd")
	load "after$lim" "$pd" -c "$CONNS" -d "$SLICE" -w 0.5 \
		-u "$w/policyd.sock" "${REQ[@]}" -P "$PASS"
	rss_after=$(rss_kb "$pd")
	kill "$SAMPLER"
	wait "$SAMPLER" 2>/dev/null
	forget_pid "$SAMPLER"

	# A clean exit: SIGTERM, status 0, the decisions written.
	kill -TERM "$pd"
	wait "$pd"
	st=$?
	forget_pid "$pd"

	peak_fds=$(peak "$w/samples" 2 "$t_att0" "$t_att1")
	peak_udp=$(peak "$w/samples" 3)
	peak_rss=$(peak "$w/samples" 4 "$t_att0" "$t_att1")
	report_limit
}

# The report of one limit (the locals of slowloris).
report_limit() {
	local b d a att ans=0 v pr f nlog ratio99 ratio50 probe_txt="" maxw=0
	local ok_probe=1 got rows warn idle_open=0 idle_closed=0 ub_emfile half_warn
	local ratio99a ratio50a

	b=RES_before$lim d=RES_during$lim a=RES_after$lim
	b=${!b} d=${!d} a=${!a}
	att=$(head -n 1 "$w/attack0.out")
	ans=$(( $(field "$b" answered) + $(field "$d" answered) + $(field "$a" answered) +
		$(field "$att" flood_answered) ))
	for i in $(seq 1 "$PROBES"); do
		pr=$(head -n 1 "$w/probe$i.out")
		ans=$((ans + $(field "$pr" answered)))
		v=$(field "$pr" max_us)
		if [ "$(field "$pr" samples)" = 1 ] && [ "$(field "$pr" errors)" = 0 ]; then
			probe_txt="$probe_txt $(awk -v u="$v" 'BEGIN { printf "%.2f", u / 1e6 }')s/$(field "$pr" retries)"
			[ "$v" -gt "$maxw" ] && maxw=$v
		else
			probe_txt="$probe_txt FAILED"
			ok_probe=0
			sed 's/^/    /' "$w/probe$i.err" | head -n 3 >&2
		fi
	done
	for f in "$w"/attack*.out; do
		v=$(head -n 1 "$f")
		pr=$(field "$v" idle_open) f=$(field "$v" idle_closed)
		idle_open=$((idle_open + ${pr:-0}))
		idle_closed=$((idle_closed + ${f:-0}))
	done
	ratio99=$(awk -v x="$(field "$d" p99_us)" -v y="$(field "$b" p99_us)" 'BEGIN { printf "%.2f", y ? x / y : 0 }')
	ratio50=$(awk -v x="$(field "$d" p50_us)" -v y="$(field "$b" p50_us)" 'BEGIN { printf "%.2f", y ? x / y : 0 }')
	ratio99a=$(awk -v x="$(field "$d" p99_us)" -v y="$(field "$a" p99_us)" 'BEGIN { printf "%.2f", y ? x / y : 0 }')
	ratio50a=$(awk -v x="$(field "$d" p50_us)" -v y="$(field "$a" p50_us)" 'BEGIN { printf "%.2f", y ? x / y : 0 }')
	got=$(sqlite3 "$w/policyd.db" "select coalesce(sum(count), 0) from rep_events" 2>/dev/null)
	rows=$(sqlite3 "$w/policyd.db" "select count(*) from rep_events" 2>/dev/null)
	nlog=$(grep -c . "$w/policyd.log")
	warn=$(grep -c -E 'warning|error|err:' "$w/policyd.log")
	ub_emfile=$(grep -c "libunbound.*can't create socket" "$w/policyd.log")
	half_warn=$(grep -c 'connection closed inside a request' "$w/policyd.log")
	CHECKS=""
	check "$(le "$peak_udp" "$inflight")" "limit $lim: lookups out to the blackhole ($peak_udp) <= max_inflight ($inflight)"
	check "$(lt "$peak_fds" "$lim")" "limit $lim: descriptors ($peak_fds) < the limit ($lim)"
	check "$(le "$peak_fds" $((conns + inflight + 64)))" "limit $lim: descriptors ($peak_fds) <= max_connections + max_inflight + 64 ($((conns + inflight + 64)))"
	check "$(le "$peak_rss" $((RSS_MB * 1024)))" "limit $lim: RSS during the attack ($((peak_rss / 1024)) MB) <= $RSS_MB MB"
	check "$(le "$rss_after" $((peak_rss + peak_rss / 20)))" "limit $lim: RSS after ($((rss_after / 1024)) MB) no more than 5 % above its peak during ($((peak_rss / 1024)) MB)"
	check "$([ "$(field "$b" errors)$(field "$d" errors)$(field "$a" errors)" = 000 ] && echo 1 || echo 0)" "limit $lim: cached clients answered, no errors"
	check "$([ "$(field "$att" flood_unanswered)" = 0 ] && [ "$(field "$att" err_answer)" = 0 ] && echo 1 || echo 0)" "limit $lim: every flood request answered"
	check "$ok_probe" "limit $lim: every legitimate uncached client decided pass (longest wait $(awk -v u="$maxw" 'BEGIN { printf "%.2f", u / 1e6 }') s)"
	check "$([ "$st" = 0 ] && echo 1 || echo 0)" "limit $lim: exit status 0 on SIGTERM"
	check "$([ "${got:-0}" = "$ans" ] && echo 1 || echo 0)" "limit $lim: every decision in the reputation store"
	check "$(lt "$(field "$d" p99_us)" 1000)" "limit $lim: cached p99 during the attack ($(field "$d" p99_us) us) < 1000 us"

	REPORT="$REPORT
== descriptor limit $lim$note: max_inflight $inflight, max_connections $conns
attack ${FLOOD_SECS}s: $flood flood connections (a new slow name per request, ${FLOOD_GAP_MS} ms pause after each answer), $idle idle, $half half-sent
$(printf '%-34s %8s %7s %7s %9s %7s %6s' run rps p50_us p99_us p99.9_us cpu_us errors)
$(for t in before during after; do
	v=RES_$t$lim
	printf '%-34s %8s %7s %7s %9s %7s %6s\n' "cached, $t the attack" \
		"$(field "${!v}" rps)" "$(field "${!v}" p50_us)" \
		"$(field "${!v}" p99_us)" "$(field "${!v}" p999_us)" \
		"$(field "${!v}" server_cpu_us)" "$(field "${!v}" errors)"
done)
cached during/before: p99 $ratio99, p50 $ratio50; during/after: p99 $ratio99a, p50 $ratio50a (load average during: $LOAD_AVG)
flood: $(field "$att" flood_sent) requests, $(field "$att" flood_answered) answered, $(field "$att" flood_refused) refused ($REFUSED), $(field "$att" flood_unanswered) unanswered, slowest $(field "$att" flood_max_ms) ms; $(field "$att" flood_closed) flood connections closed by the daemon
idle: $idle_open still open, $idle_closed closed by the daemon at its cap; half-sent: $(field "$att" half_open) open, $(field "$att" half_closed) closed
legitimate uncached clients, time to decision (pass)/refusals before it:$probe_txt
lookups: blackhole UDP sockets at most $peak_udp (max_inflight $inflight)
descriptors: before $fds0, at most $peak_fds during, $fds1 after (limit $lim)
RSS: before $((rss0 / 1024)) MB, at most $((peak_rss / 1024)) MB during, $((rss1 / 1024)) MB after, $((rss_after / 1024)) MB after the last cached run
daemon: exit status $st on SIGTERM; log (notice): $nlog lines, $warn warnings or errors, of them $ub_emfile libunbound socket errors (EMFILE) and $half_warn 'connection closed inside a request' (half-sent ones, when the attacker goes)
reputation store: $got decisions in $rows rows, $ans answered
bounds:$CHECKS
raw:
(before) $b
(during) $d
(after) $a
(attack) $att
$(for f in "$w"/attack[1-9]*.out; do [ -f "$f" ] && echo "(idle) $(head -n 1 "$f")"; done)
$(for i in $(seq 1 "$PROBES"); do echo "(probe$i) $(head -n 1 "$w/probe$i.out")"; done)
daemon log, first lines:
$(sed 's/^/  | /' "$w/policyd.log" | head -n 8)"
}

for l in $LIMITS; do
	slowloris "$l"
done
T1=$(date +%s.%N)
{
	echo
	echo "smilla-policyd under a slowloris attack: $CONNS cached clients, unix sockets, dns_timeout $DNS_TIMEOUT s"
	echo "host: $(nproc) CPUs, $(uname -sr), hard descriptor limit $HARD"
	echo "$REPORT"
	[ -n "$NOTES" ] && echo "$NOTES"
	echo
	report_end
}
exit "$RC"
