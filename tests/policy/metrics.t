#!/bin/sh
# smilla-policyd's metrics_file: written every metrics_interval in the
# Prometheus text format (checked by tests/lib/prom.pl, a strict
# reader), replaced atomically (no FILE.tmp left, mode 0644), with
# counters that move by exactly the traffic sent: decisions per result
# (and as many as the log has info lines of each), lookups, DNS
# queries and cache hits, the DNS timeout, a malformed request, a
# connection closed inside a request; the
# gauges back to 0 when the clients are gone; and written once more at
# SIGTERM (with an interval too long to have written it before).  Then
# "smillactl metrics" on the daemon's store: its events per result are
# the decisions the daemon counted, its identities and cache entries
# those "smillactl report" and "cache show" list.
set -eu
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/prom.sh"
. "$(dirname "$0")/../lib/policyd.sh"
require_bed

here=$(cd "$(dirname "$0")" && pwd)
pd_setup pmetrics
mfile="$work/policyd.prom"
client() { "$here/client.pl" "$work/policy.sock"; }
d() { echo "smilla_policyd_decisions_total{result=\"$1\"}"; }

pd_conf "dns_timeout = 2" "metrics_file = $mfile" "metrics_interval = 1"
pd_start
check "metrics file written within the interval" prom_wait "$mfile" "$(d pass)" 0
check "  it parses (strict exposition format)" prom_read "$mfile"
is "$(printf '%s\n' "$samples" | grep -c '^smilla_policyd_decisions_total{')" 7 \
	"  one decisions series per result word"
is "$(prom_sum smilla_)" 0 \
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
open h
send h raw=request=smtpd_access_policy\nhelo_name=half.smilla.test\n
sleep 0.2
close h
SCRIPT
)
like "$out" '^a [0-9]+ action=PREPEND DANE-Client-Auth: temperror' "traffic sent (the last answer a timeout)"
check "file updated after the traffic" prom_wait "$mfile" "$(d temperror)" 1
check "  still parses" prom_read "$mfile"
for r in pass:3 fail:1 bogus:1 none:1 nocert:1 temperror:1 unusable:0; do
	is "$(prom_value "$(d "${r%:*}")")" "${r#*:}" "  decisions ${r%:*}: ${r#*:}"
	is "$(grep -c "result=${r%:*} " "$work/log" || true)" "${r#*:}" \
		"    as many ${r%:*} lines in the log"
done
lookups=$(prom_value smilla_policyd_lookups_total)
queries=$(prom_value smilla_policyd_dns_queries_total)
hits=$(prom_sum smilla_policyd_cache_hits_total)
is "$lookups" 7 "  7 TLSA lookups (every request with a certificate)"
is "$queries" 5 "  5 DNS queries (one per owner name)"
is "$hits" 2 "  the 2 repeated requests: cache hits"
is "$(prom_value smilla_policyd_dns_timeouts_total)" 1 "  1 DNS timeout"
is "$(prom_value 'smilla_policyd_errors_total{kind="malformed"}')" 1 "  1 malformed request"
check "  1 connection closed inside a request" prom_wait "$mfile" \
	'smilla_policyd_errors_total{kind="closed-in-request"}' 1
is "$(prom_sum smilla_policyd_errors_total)" 2 \
	"  no other error"
check "  gauges back to 0: no lookup in flight, no connection" \
	prom_wait "$mfile" smilla_policyd_connections 0
is "$(prom_value smilla_policyd_dns_inflight)" 0 "  dns_inflight 0"
is "$(ls "$work" | grep -c '\.tmp$' || true)" 0 "no FILE.tmp left in the directory"
pd_stop

# Written at exit: with an hour's interval, nothing before SIGTERM.
rm -f "$mfile"
pd_conf "dns_timeout = 2" "metrics_file = $mfile" "metrics_interval = 1h"
pd_start
pd_pass "one more decision"
check "  no file yet (metrics_interval = 1h)" test ! -e "$mfile"
pd_stop
check "written at SIGTERM" prom_read "$mfile"
is "$(prom_value "$(d pass)")" 1 "  with the decision (counts start at 0)"

# smillactl metrics: the store's view of the same decisions.
"$SMILLA_BUILD/smillactl" -c "$conf" metrics > "$work/ctl.prom"
"$SMILLA_BUILD/smillactl" -c "$conf" report > "$work/report.txt"
diag "$(cat "$work/report.txt")"
check "smillactl metrics: parses" prom_read "$work/ctl.prom"
for r in pass:4 fail:1 bogus:1 none:1 nocert:1 temperror:1 unusable:0; do
	is "$(prom_value "smilla_store_events{result=\"${r%:*}\"}")" "${r#*:}" \
		"  events ${r%:*}: ${r#*:}, as the daemons counted"
done
is "$(prom_sum smilla_store_decisions)" 9 "  the identities' totals: 9 decisions"
is "$(prom_value smilla_store_keys_seen)" 1 "  1 key seen (as report's keys column)"
is "$(prom_value smilla_store_key_changes)" 0 "  no key change"
is "$(prom_value smilla_store_identities)" \
	"$("$SMILLA_BUILD/smillactl" -c "$conf" report --json |
	   perl -MJSON::PP -e 'print scalar @{decode_json(join "", <STDIN>)->{identities}}')" \
	"  as many identities ($(prom_value smilla_store_identities)) as smillactl report lists"
is "$(prom_value 'smilla_store_cache_entries{type="tlsa"}')" \
	"$("$SMILLA_BUILD/smillactl" -c "$conf" cache show | grep -c ' TLSA ')" \
	"  as many TLSA cache entries ($(prom_value 'smilla_store_cache_entries{type="tlsa"}')) as smillactl cache show lists"
check "  some of them" [ "$(prom_value 'smilla_store_cache_entries{type="tlsa"}')" -ge 1 ]

# A bad interval is refused.
pd_conf "metrics_file = $mfile" "metrics_interval = 0"
run "$SMILLA_BUILD/smilla-policyd" -c "$conf"
like "$out" 'metrics_interval' "metrics_interval = 0 refused (min 1 s)"

# The reader is strict: it fails on what the collector would refuse.
printf '# HELP x_total x\n# TYPE x_total counter\nx_total{r="a"b"} 1\n' > "$work/bad.prom"
run "$PROM_PL" "$work/bad.prom"
check "prom.pl: an unescaped quote fails" [ "$rc" -ne 0 ]
printf '# HELP x x\n# TYPE x counter\nx 1\n' > "$work/bad.prom"
run "$PROM_PL" "$work/bad.prom"
check "prom.pl: a counter not named _total fails" [ "$rc" -ne 0 ]
done_testing
