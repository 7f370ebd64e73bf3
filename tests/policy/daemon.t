#!/bin/sh
# smilla-policyd as a daemon on unix and inet sockets: a hanging lookup
# never delays other clients, lookups time out as temperror, malformed
# requests close only their own connection, SIGHUP reloads settings
# (and keeps the old ones when the new file is bad), SIGTERM stops it
# and says so.  Under a 1024-descriptor limit: the derived limits fit,
# idle and half-sent connections time out, the longest-idle connection
# makes room at max_connections, 1100 idle connections (and a limit
# lowered under the running daemon, EMFILE) cost no CPU and a new
# client is still answered.
set -eu
. "$(dirname "$0")/../lib/tap.sh"
require_bed

here=$(cd "$(dirname "$0")" && pwd)
work="$BED_DIR/daemon"
rm -rf "$work"
mkdir -p "$work"
port=$(( 20000 + $$ % 20000 ))
conf="$work/smilla.conf"
write_conf() {
	{ grep -v '^dns_timeout' "$BED_DIR/smilla.conf"
	  echo "dns_timeout = 3"
	  echo "db_path = $work/smilla.db"
	  echo "authserv_id = mx.smilla.test"
	  echo "listen = unix:$work/policy.sock, inet:127.0.0.1:$port"
	  echo "socket_mode = 0660"
	  printf '%s\n' "$@"; } > "$conf"
}
write_conf
"$SMILLA_BUILD/smilla-policyd" -c "$conf" 2> "$work/log" &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
wait_socket "$work/policy.sock"
check "unix socket created" [ -S "$work/policy.sock" ]
is "$(stat -c %a "$work/policy.sock")" 660 "  with socket_mode 0660"

K=$GOOD_SPKI_SHA256_COLON
client() { "$here/client.pl" "$@"; }

out=$(client "$work/policy.sock" <<SCRIPT
open warm
send warm helo=good.smilla.test key=$K
recv warm
open slow
send slow helo=host.slow.smilla.test key=$K
open fast
send fast helo=good.smilla.test key=$K instance=f1
recv fast 2
send fast helo=good.smilla.test key=$K instance=f2
recv fast 2
send fast helo=bad.smilla.test key=$K instance=f3
recv fast 2
recv slow 6
SCRIPT
)
like "$out" '^warm [0-9]+ action=PREPEND DANE-Client-Auth: pass' "unix socket: pass"
fast=$(printf '%s\n' "$out" | awk '$1 == "fast" {print $2}' | sort -n | tail -1)
check "cached answers while a lookup hangs: slowest ${fast} ms" [ "${fast:-999999}" -lt 500 ]
like "$out" '^fast [0-9]+ action=PREPEND DANE-Client-Auth: fail \(identity=bad' "  uncached lookup for another client not held up"
slow=$(printf '%s\n' "$out" | awk '$1 == "slow" {print $2}')
like "$out" '^slow [0-9]+ action=PREPEND DANE-Client-Auth: temperror \(identity=host\.slow\.smilla\.test; reason=DNS timeout' \
	"hanging lookup: temperror"
check "  after the 3 s timeout, not much later (${slow} ms)" [ "${slow:-0}" -ge 2900 -a "${slow:-0}" -lt 4500 ]
# The slow answer came after the fast ones although it was sent first.
first=$(printf '%s\n' "$out" | awk '{print $1}' | grep -v warm | head -1)
is "$first" fast "  answers are not serialised behind the lookup"

out=$(client "127.0.0.1:$port" <<SCRIPT
open a
send a helo=good.smilla.test key=$K
recv a
SCRIPT
)
like "$out" '^a [0-9]+ action=PREPEND DANE-Client-Auth: pass' "inet socket: pass"

out=$(client "$work/policy.sock" <<SCRIPT
open bad
open good
send bad raw=request=x\nno-equals-here\n\n
closed bad
send good helo=good.smilla.test key=$K
recv good
SCRIPT
)
like "$out" '^bad closed' "malformed request: connection closed without an answer"
like "$out" '^good [0-9]+ action=PREPEND' "  other connections carry on"
like "$(cat "$work/log")" 'malformed request \(line without name=value\)' "  logged with the reason"

# A client gone while its lookup hangs; one that sends 20000 requests
# and reads answers only when its writes would block (far more than the
# socket buffers hold: the daemon waits to write, and stops reading
# until its answers are taken); one whose request comes a few octets at
# a time.
out=$(client "$work/policy.sock" <<SCRIPT
open gone
send gone helo=h1.slow.smilla.test key=$K
sleep 0.2
close gone
open many
burst many 20000 helo=good.smilla.test key=$K
sleep 0.5
recvn many 20000 20
open drip
trickle drip helo=good.smilla.test key=$K
recv drip 2
sleep 3.5
open after
send after helo=good.smilla.test key=$K
recv after 2
SCRIPT
)
is "$(printf '%s\n' "$out" | grep '^many')" "many 20000 answers, 20000 pass" \
	"20000 requests, answers read only when the daemon stops reading: all answered"
like "$out" '^drip [0-9]+ action=PREPEND DANE-Client-Auth: pass' "a request a few octets at a time"
like "$out" '^after [0-9]+ action=PREPEND DANE-Client-Auth: pass' \
	"  after the lookup of a client that went away timed out: still serving"

# A client that never reads: the daemon stops reading from it once its
# answers back up (256 KB queued), instead of queueing without end.
out=$(client "$work/policy.sock" <<SCRIPT
open flood
flood flood helo=good.smilla.test key=$K
SCRIPT
)
like "$out" '^flood stalled after [0-9]+ requests' "a client that never reads is no longer read from"
n=$(printf '%s\n' "$out" | sed -n 's/^flood stalled after \([0-9]*\) requests/\1/p')
check "  after a bounded backlog (${n:-?} requests, under 60000)" [ "${n:-999999}" -lt 60000 ]
like "$out" '^flood [0-9]+ answers, 1 header, 0 bad' "  once it reads, every request is answered"
total=$(printf '%s\n' "$out" | sed -n 's/^flood \([0-9]*\) answers.*/\1/p')
check "  all of them (${total:-?} answers for ${n:-?} requests and the cut one)" \
	[ -n "$n" -a "${total:-0}" -ge "${n:-1}" -a "${total:-0}" -le $((${n:-0} + 1)) ]

# SIGHUP: new actions take effect on the same listening sockets.
write_conf "action_pass = OK"
kill -HUP $pid
sleep 0.5
out=$(client "$work/policy.sock" <<SCRIPT
open a
send a helo=good.smilla.test key=$K
recv a
SCRIPT
)
like "$out" '^a [0-9]+ action=OK$' "SIGHUP: reloaded action_pass"
like "$(cat "$work/log")" 'configuration and tables reloaded' "  logged"
write_conf "action_pass = FROBNICATE"
kill -HUP $pid
sleep 0.5
like "$(cat "$work/log")" 'reload failed, keeping the old settings: .*smilla.conf:[0-9]+: action_pass' \
	"bad config on SIGHUP: error with file and line"
out=$(client "$work/policy.sock" <<SCRIPT
open a
send a helo=good.smilla.test key=$K
recv a
SCRIPT
)
like "$out" '^a [0-9]+ action=OK$' "  old settings kept"

kill -TERM $pid
set +e
wait $pid
rc=$?
set -e
trap - EXIT
is "$rc" 0 "SIGTERM: clean exit"
like "$(cat "$work/log")" 'stopping \(SIGTERM\), 0 connections open' "  logged"
n=$(sqlite3 "$work/smilla.db" "select sum(count) from rep_events")
check "reputation events written at exit ($n)" [ "$n" -ge 8 ]
lines=$(grep -c ' result=' "$work/log")
is "$lines" "$n" "one log line per decision, one event per decision"

# Descriptor limits: a daemon under systemd's default soft limit.
lw="$work/lim"
mkdir -p "$lw"
lconf() {
	{ cat "$BED_DIR/smilla.conf"
	  echo "db_path = $lw/smilla.db"
	  echo "authserv_id = mx.smilla.test"
	  echo "listen = unix:$lw/policy.sock"
	  printf '%s\n' "$@"; } > "$lw/smilla.conf"
}
lconf "idle_timeout = 2"
"$SMILLA_BUILD/smilla-policyd" -c "$lw/smilla.conf" -s < /dev/null > /dev/null 2> "$lw/s.log" || true
like "$(cat "$lw/s.log")" 'stopping \(end of input\), 0 connections open' "-s: the end of input is logged as the reason for stopping"
(ulimit -n 1024; exec "$SMILLA_BUILD/smilla-policyd" -c "$lw/smilla.conf" 2> "$lw/log") &
lpid=$!
trap 'kill $lpid 2>/dev/null || true' EXIT
wait_socket "$lw/policy.sock"
line=$(grep -m1 'descriptor limit' "$lw/log" || true)
like "$line" 'descriptor limit 1024: max_connections [0-9]+, max_inflight [0-9]+, idle_timeout 2 s' \
	"limit 1024: the effective limits are logged"
mc=$(printf '%s\n' "$line" | sed -n 's/.*max_connections \([0-9]*\).*/\1/p')
mi=$(printf '%s\n' "$line" | sed -n 's/.*max_inflight \([0-9]*\).*/\1/p')
check "  max_inflight (${mi:-?}) is below 1024 - max_connections (${mc:-?})" \
	[ "${mi:-0}" -gt 0 -a "${mi:-0}" -lt $((1024 - ${mc:-1024})) ]

# A half-sent request is closed after idle_timeout (2 s); a whole one
# on another connection is answered meanwhile, and closed 2 s later.
out=$(client "$lw/policy.sock" <<SCRIPT
open half
send half raw=request=smtpd_access_policy\nhelo_name=good.smilla.test\n
open whole
sleep 1
send whole helo=good.smilla.test key=$K
recv whole
closed half 4
closed whole 4
SCRIPT
)
like "$out" '^whole [0-9]+ action=PREPEND DANE-Client-Auth: pass' \
	"beside a half-sent request, a whole one is answered"
like "$out" '^half closed' "  the half-sent request is closed after idle_timeout"
like "$(cat "$lw/log")" 'closing a connection idle for 2 s inside a request' "  and logged"
like "$out" '^whole closed' "  an idle connection too"
like "$(cat "$lw/log")" 'closing a connection idle for 2 s$' "  and logged"

# At max_connections, a new connection closes the longest-idle one.
lconf "max_connections = 3"
kill -HUP $lpid
sleep 0.5
out=$(client "$lw/policy.sock" <<SCRIPT
open a
send a helo=good.smilla.test key=$K
recv a
open b
send b helo=good.smilla.test key=$K
recv b
open c
send c helo=good.smilla.test key=$K
recv c
open d
send d helo=good.smilla.test key=$K
recv d
closed a
send b helo=good.smilla.test key=$K instance=b2
recv b
SCRIPT
)
like "$out" '^d [0-9]+ action=PREPEND DANE-Client-Auth: pass' "max_connections 3: the 4th connection is served"
like "$out" '^a closed' "  the longest-idle one is closed"
is "$(printf '%s\n' "$out" | grep -c '^b [0-9]* action=PREPEND')" 2 "  the others stay"
like "$(cat "$lw/log")" 'max_connections \(3\) reached: closed 1 longest-idle' "  logged"

# 1100 idle connections: the longest-idle ones give way, no CPU is
# spent on the listener, and a new client is answered.  A
# max_connections that does not fit is lowered.
lconf "max_connections = 5000"
kill -HUP $lpid
sleep 0.5
like "$(cat "$lw/log")" "max_connections 5000 does not fit under the descriptor limit 1024 with max_inflight $mi: using $mc" \
	"max_connections 5000 under 1024 descriptors: lowered, with a warning"
out=$( (ulimit -n 4096; client "$lw/policy.sock") <<SCRIPT
hold 1100
sleep 0.5
cpu $lpid 3
open new
send new helo=good.smilla.test key=$K
recv new 5
SCRIPT
)
like "$out" '^hold 1100 open' "limit 1024: 1100 idle connections"
cpu=$(printf '%s\n' "$out" | sed -n 's/^cpu \([0-9]*\)%/\1/p')
check "  the daemon uses under 10 % CPU (${cpu:-?} %)" [ "${cpu:-100}" -lt 10 ]
like "$out" '^new [0-9]+ action=PREPEND DANE-Client-Auth: pass' "  a new client is answered"
like "$(cat "$lw/log")" "max_connections \\($mc\\) reached: closed [0-9]+ longest-idle" "  the cap is logged"
sleep 0.5

# The limit lowered under the running daemon: accept4 fails with
# EMFILE; the listener rests, once logged, and the cap comes down.
prlimit --pid $lpid --nofile=200:200
out=$( (ulimit -n 4096; client "$lw/policy.sock") <<SCRIPT
hold 400
sleep 0.5
cpu $lpid 2
open new
send new helo=good.smilla.test key=$K
recv new 5
SCRIPT
)
like "$out" '^hold 400 open' "limit lowered to 200: 400 idle connections"
cpu=$(printf '%s\n' "$out" | sed -n 's/^cpu \([0-9]*\)%/\1/p')
check "  EMFILE: the daemon uses under 10 % CPU (${cpu:-?} %)" [ "${cpu:-100}" -lt 10 ]
like "$out" '^new [0-9]+ action=PREPEND DANE-Client-Auth: pass' "  a new client is answered"
is "$(grep -c 'accept: Too many open files' "$lw/log")" 1 "  one log line for the episode"
like "$(cat "$lw/log")" 'max_connections [0-9]+ for now' "  the cap is lowered for now"
# Ten seconds without a failure: the cap is back (an ENFILE caused by
# another process must not shrink the daemon for good).
sleep 10.5
out=$(client "$lw/policy.sock" <<SCRIPT
open back
send back helo=good.smilla.test key=$K
recv back 5
SCRIPT
)
like "$out" '^back [0-9]+ action=PREPEND DANE-Client-Auth: pass' "  after the episode a client is answered"
like "$(cat "$lw/log")" "accept: no failure for 10 s: max_connections back to $mc" \
	"  and max_connections is back to $mc"
kill -TERM $lpid
set +e
wait $lpid
rc=$?
set -e
trap - EXIT
is "$rc" 0 "SIGTERM after all that: clean exit (no sanitizer report)"
like "$(cat "$lw/log")" 'stopping \(SIGTERM\), [0-9]+ connections open' "  the stop line says how many connections were open"

# Started as root with user = nobody: binds, hands the socket to the
# user, drops privileges, then opens the database as that user.
if [ "$(id -u)" = 0 ]; then
	mkdir -p "$work/u"
	chmod 777 "$work/u"
	{ grep -v '^db_path\|^listen\|^action_pass' "$conf"
	  echo "db_path = $work/u/smilla.db"
	  echo "listen = unix:$work/u/policy.sock"
	  echo "user = nobody"; } > "$work/u.conf"
	"$SMILLA_BUILD/smilla-policyd" -c "$work/u.conf" 2> "$work/u.log" &
	upid=$!
	wait_socket "$work/u/policy.sock"
	sleep 0.3
	is "$(ps -o user= -p $upid | tr -d ' ')" nobody "user = nobody: daemon runs as nobody"
	is "$(stat -c %U "$work/u/policy.sock")" nobody "  socket handed to nobody"
	out=$(client "$work/u/policy.sock" <<SCRIPT
open a
send a helo=good.smilla.test key=$K
recv a
SCRIPT
)
	like "$out" '^a [0-9]+ action=PREPEND DANE-Client-Auth: pass' "  answers"
	is "$(stat -c %U "$work/u/smilla.db")" nobody "  database created as nobody"
	kill -TERM $upid
	wait $upid || true
else
	for i in 1 2 3 4; do ok 0 "# SKIP user = nobody needs root"; done
fi
done_testing
