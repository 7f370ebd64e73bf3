#!/bin/bash
# smilla-policyd end to end: a real Postfix (throwaway instance, TLS,
# smtpd_tls_ask_ccert) calls the daemon; swaks is the sending MTA with
# real certificates and the HELO names of the DNSSEC test bed.
set -eu
. "$(dirname "$0")/../lib/tap.sh"
require_bed

here=$(cd "$(dirname "$0")" && pwd)
PF_SH="$here/postfix.sh"
work="$BED_DIR/e2e"
rm -rf "$work"
mkdir -p "$work"
chmod 755 "$work"
pf="$work/pf"
pid=""
# The checkout may lie below a directory only root can enter (a clone
# in root's 0700 home).  This test always runs the daemon from such a
# place, so that whatever an unprivileged process needs (spawn(8) runs
# the daemon as nobody) must come from the bed's own traversable
# directory, wherever the checkout is.
hidden=$(mktemp -d /tmp/smilla-hidden.XXXXXX)
chmod 700 "$hidden"
cp "$SMILLA_BUILD/smilla-policyd" "$hidden/smilla-policyd"
pd="$hidden/smilla-policyd"
cleanup() {
	"$PF_SH" stop "$pf" >/dev/null 2>&1 || true
	[ -n "$pid" ] && kill "$pid" 2>/dev/null || true
	rm -rf "$hidden"
}
trap cleanup EXIT

cat > "$work/require.tbl" <<'TBL'
bad.smilla.test
.bogus.smilla.test
TBL
{ grep -v '^dns_timeout' "$BED_DIR/smilla.conf"
  echo "dns_timeout = 3"
  echo "authserv_id = mx.smilla.test"
  echo "db_path = $work/smilla.db"
  echo "require_table = $work/require.tbl"
  echo "listen = unix:$work/policy.sock"
  echo "socket_mode = 0666"; } > "$work/smilla.conf"
"$pd" -c "$work/smilla.conf" 2> "$work/policyd.log" &
pid=$!
wait_socket "$work/policy.sock"
check "smilla-policyd listening on a unix socket" [ -S "$work/policy.sock" ]
"$PF_SH" start "$pf" "unix:$work/policy.sock" > "$work/pf-start.log" 2>&1
. "$pf/postfix.env"
ok 0 "Postfix instance on 127.0.0.1:$PF_PORT"

send() { # name helo [cert] -- extra swaks args
	local name=$1 helo=$2 cert=${3:-}
	shift 3 || shift $#
	local tls=()
	[ -n "$cert" ] && tls=(--tls-cert "$BED_DIR/certs/$cert.pem" --tls-key "$BED_DIR/certs/$cert.key")
	"$PF_SH" send "$pf" "${tls[@]}" --ehlo "$helo" --header "Subject: $name" "$@" \
		> "$work/$name.out" 2>&1 && rc=0 || rc=$?
	out=$(cat "$work/$name.out")
}
mail_with() { grep -l "^Subject: $1\$" "$PF_MAILDIR"/new/* 2>/dev/null | head -1; }
delivered=0

# 1. A client whose certificate matches its published TLSA record.
send pass good.smilla.test good
is "$rc" 0 "matching client: accepted"
delivered=$((delivered + 1))
"$PF_SH" wait-mail "$pf" $delivered > /dev/null || true
m=$(mail_with pass)
check "  delivered" [ -n "$m" ]
like "$(cat "$m")" '^DANE-Client-Auth: pass \(identity=good\.smilla\.test; record=3 1 1; authserv=mx\.smilla\.test\)$' \
	"  result header in the delivered message"
is "$(grep -c '^DANE-Client-Auth:' "$m")" 1 "  exactly one header (RCPT and DATA stage both asked)"

# 2. A mismatching client on the require list: rejected at RCPT, even
#    though its certificate (trusted here, so Postfix sends its CN)
#    authenticates another name.
send reject bad.smilla.test good
like "$out" '<~\* +554 5\.7\.1 .*DANE client authentication required for bad\.smilla\.test \(fail\)' \
	"mismatching required client: 5.7.1 rejection"

# 3. No certificate: nocert, delivered without a header.
send nocert good.smilla.test ""
is "$rc" 0 "no certificate: accepted"
delivered=$((delivered + 1))
"$PF_SH" wait-mail "$pf" $delivered > /dev/null || true
m=$(mail_with nocert)
check "  delivered" [ -n "$m" ]
unlike "$(cat "$m")" '^DANE-Client-Auth:' "  no header (action_nocert = DUNNO)"
like "$(cat "$work/policyd.log")" 'helo=good\.smilla\.test identity=good\.smilla\.test result=nocert' \
	"  logged as nocert"

# 4. Bogus zone, required identity: deferred.
send bogus host.bogus.smilla.test good
like "$out" '<~\* +450 4\.7\.5 .*DANE client authentication of host\.bogus\.smilla\.test temporarily failed \(bogus\)' \
	"bogus zone for a required identity: 4.7.5 deferral"

# 5. Unresponsive DNS: temperror within the timeout; meanwhile another
#    client is answered at once.  (A self-signed certificate: Postfix
#    sends no CN for it, so the HELO name is the only identity.)
t0=$(date +%s%N)
send slow host.slow.smilla.test self &
slowpid=$!
sleep 0.3
t1=$(date +%s%N)
send pass2 good.smilla.test good
t2=$(date +%s%N)
is "$rc" 0 "other client while a lookup hangs: accepted"
check "  in $(( (t2 - t1) / 1000000 )) ms, not held up by the 3 s lookup" [ $(( (t2 - t1) / 1000000 )) -lt 2500 ]
wait $slowpid || true
t3=$(date +%s%N)
delivered=$((delivered + 2))
"$PF_SH" wait-mail "$pf" $delivered > /dev/null || true
m=$(mail_with slow)
check "unresponsive DNS: message accepted" [ -n "$m" ]
like "$(cat "$m" 2>/dev/null)" '^DANE-Client-Auth: temperror \(identity=host\.slow\.smilla\.test; reason=DNS timeout; authserv=mx\.smilla\.test\)$' \
	"  temperror header"
check "  within the timeout ($(( (t3 - t0) / 1000000 )) ms for the whole SMTP session)" [ $(( (t3 - t0) / 1000000 )) -lt 8000 ]
like "$(cat "$work/policyd.log")" 'identity=host\.slow\.smilla\.test result=temperror reason="DNS timeout" lookup=dns time=(29|3[0-9])[0-9][0-9]\.' \
	"  log line: temperror after about 3 s"

"$PF_SH" stop "$pf" > /dev/null 2>&1
kill -TERM "$pid"
wait "$pid" && rc=0 || rc=$?
pid=""
is "$rc" 0 "daemon stopped cleanly"
n=$(sqlite3 "$work/smilla.db" "select sum(count) from rep_events where identity='good.smilla.test' and result='pass'")
check "reputation store has the passes ($n)" [ "$n" -ge 4 ]

# 6. spawn(8) mode: Postfix starts one daemon per connection on stdin.
{ grep -v '^log' "$work/smilla.conf" | grep -v '^listen' | grep -v '^db_path'
  echo "log = syslog:mail"	# stderr is the socket under spawn
  echo "db_path ="; } > "$work/spawn.conf"
chmod 644 "$work/spawn.conf"
# spawn(8)'s child runs as nobody: its program lies in the bed.
mkdir -p "$work/bin"
cp "$pd" "$work/bin/smilla-policyd"
chmod 755 "$work/bin" "$work/bin/smilla-policyd"
"$PF_SH" start "$pf" "spawn:$work/bin/smilla-policyd -s -c $work/spawn.conf" > "$work/pf-start2.log" 2>&1
. "$pf/postfix.env"
send spawn good.smilla.test good
is "$rc" 0 "spawn mode: accepted"
"$PF_SH" wait-mail "$pf" 1 > /dev/null || true
m=$(mail_with spawn)
like "$(cat "$m" 2>/dev/null)" '^DANE-Client-Auth: pass \(identity=good\.smilla\.test; record=3 1 1; authserv=mx\.smilla\.test\)$' \
	"  header from the spawned daemon"
send spawnbad bad.smilla.test good
like "$out" '<~\* +554 5\.7\.1 ' "  required client rejected in spawn mode too"
"$PF_SH" stop "$pf" > /dev/null 2>&1
left=$(ps -ww -eo args= | grep -F "$work" | grep -v grep || true)
is "$left" "" "nothing left running"
rm -rf "$hidden"
trap - EXIT
done_testing
