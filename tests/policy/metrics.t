#!/bin/sh
# smilla-policyd's metrics_file: written every metrics_interval in the
# Prometheus text format (checked by tests/lib/prom.pl, a strict
# reader), replaced atomically (no FILE.tmp left, mode 0644), with
# counters that move by exactly the traffic sent: decisions per result
# (and as many as the log has info lines of each), lookups, DNS
# queries and cache hits, the DNS timeout, a malformed request; the
# gauges back to 0 when the clients are gone; and written once more at
# SIGTERM (with an interval too long to have written it before).
set -eu
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/proc.sh"
require_bed

here=$(cd "$(dirname "$0")" && pwd)
prom="$here/../lib/prom.pl"
work="$BED_DIR/pmetrics"
rm -rf "$work"
mkdir -p "$work"
conf="$work/smilla.conf"
mfile="$work/policyd.prom"
write_conf() {
	{ grep -v '^dns_timeout' "$BED_DIR/smilla.conf"
	  echo "dns_timeout = 2"
	  echo "db_path = $work/smilla.db"
	  echo "listen = unix:$work/policy.sock"
	  echo "metrics_file = $mfile"
	  printf '%s\n' "$@"; } > "$conf"
}
pid=
trap '[ -z "$pid" ] || kill $pid 2>/dev/null || true' EXIT
start() {
	rm -f "$work/policy.sock"
	"$SMILLA_BUILD/smilla-policyd" -c "$conf" 2> "$work/log" &
	pid=$!
	wait_socket "$work/policy.sock"
}
stop() {
	kill -TERM $pid
	wait $pid || true
	pid=
}
client() { "$here/client.pl" "$work/policy.sock"; }
# value SERIES: its value in the file as read last ($samples).
value() {
	printf '%s\n' "$samples" | awk -v s="$1" '$1 == s { print $2; f = 1 }
		END { if (!f) print "missing" }'
}
# read_file: parse the file into $samples; 1 when it does not parse.
read_file() {
	samples=$("$prom" "$mfile" 2> "$work/prom.err") || {
		diag "$(cat "$work/prom.err")"
		return 1
	}
}
# wait_value SERIES WANT: until the file says so (at most 10 s).
wait_value() {
	for _ in $(seq 1 100); do
		if [ -f "$mfile" ] && read_file && [ "$(value "$1")" = "$2" ]; then
			return 0
		fi
		sleep 0.1
	done
	return 1
}
d() { echo "smilla_policyd_decisions_total{result=\"$1\"}"; }

write_conf "metrics_interval = 1"
start
check "metrics file written within the interval" wait_value "$(d pass)" 0
check "  it parses (strict exposition format)" read_file
is "$(printf '%s\n' "$samples" | grep -c '^smilla_policyd_decisions_total{')" 7 \
	"  one decisions series per result word"
is "$(printf '%s\n' "$samples" | awk '{ s += $2 } END { print s }')" 0 \
	"  every counter and gauge 0 before any traffic"
is "$(stat -c %a "$mfile")" 644 "  mode 0644"

K=$GOOD_SPKI_SHA256_COLON
out=$(client <<SCRIPT
open a
send a helo=good.smilla.test key=$K
recv a
send a helo=good.smilla.test key=$K
recv a
send a helo=good.smilla.test key=$K
recv a
send a helo=bad.smilla.test key=$K
recv a
send a helo=host.bogus.smilla.test key=$K
recv a
send a helo=nothing.smilla.test key=$K
recv a
send a helo=good.smilla.test key=
recv a
send a helo=host.slow.smilla.test key=$K
recv a 5
open m
send m raw=request=x\nno-equals-here\n\n
closed m
SCRIPT
)
like "$out" '^a [0-9]+ action=PREPEND DANE-Client-Auth: temperror' "traffic sent (the last answer a timeout)"
check "file updated after the traffic" wait_value "$(d temperror)" 1
check "  still parses" read_file
for r in pass:3 fail:1 bogus:1 none:1 nocert:1 temperror:1 unusable:0; do
	is "$(value "$(d "${r%:*}")")" "${r#*:}" "  decisions ${r%:*}: ${r#*:}"
	is "$(grep -c "result=${r%:*} " "$work/log" || true)" "${r#*:}" \
		"    as many ${r%:*} lines in the log"
done
lookups=$(value smilla_policyd_lookups_total)
queries=$(value smilla_policyd_dns_queries_total)
hits=$(printf '%s\n' "$samples" |
	awk '/^smilla_policyd_cache_hits_total/ { s += $2 } END { print s }')
is "$lookups" 7 "  7 TLSA lookups (every request with a certificate)"
is "$queries" 5 "  5 DNS queries (one per owner name)"
is "$hits" 2 "  the 2 repeated requests: cache hits"
is "$(value smilla_policyd_dns_timeouts_total)" 1 "  1 DNS timeout"
is "$(value 'smilla_policyd_errors_total{kind="malformed"}')" 1 "  1 malformed request"
is "$(printf '%s\n' "$samples" | awk '/^smilla_policyd_errors_total/ { s += $2 } END { print s }')" 1 \
	"  no other error"
check "  gauges back to 0: no lookup in flight, no connection" \
	wait_value smilla_policyd_connections 0
is "$(value smilla_policyd_dns_inflight)" 0 "  dns_inflight 0"
is "$(ls "$work" | grep -c '\.tmp$' || true)" 0 "no FILE.tmp left in the directory"
stop

# Written at exit: with an hour's interval, nothing before SIGTERM.
rm -f "$mfile"
write_conf "metrics_interval = 1h"
start
out=$(client <<SCRIPT
open a
send a helo=good.smilla.test key=$K
recv a
SCRIPT
)
like "$out" '^a [0-9]+ action=PREPEND DANE-Client-Auth: pass' "one more decision"
check "  no file yet (metrics_interval = 1h)" test ! -e "$mfile"
stop
check "written at SIGTERM" read_file
is "$(value "$(d pass)")" 1 "  with the decision (counts start at 0)"

# A bad interval is refused.
write_conf "metrics_interval = 0"
run "$SMILLA_BUILD/smilla-policyd" -c "$conf"
like "$out" 'metrics_interval' "metrics_interval = 0 refused (min 1 s)"

# The reader is strict: it fails on what the collector would refuse.
printf '# HELP x_total x\n# TYPE x_total counter\nx_total{r="a"b"} 1\n' > "$work/bad.prom"
run "$prom" "$work/bad.prom"
check "prom.pl: an unescaped quote fails" [ "$rc" -ne 0 ]
printf '# HELP x x\n# TYPE x counter\nx 1\n' > "$work/bad.prom"
run "$prom" "$work/bad.prom"
check "prom.pl: a counter not named _total fails" [ "$rc" -ne 0 ]
done_testing
