#!/bin/bash
# Fault tests (issue 15): the daemons killed (SIGKILL) while mail is on
# its way.  Nothing may be lost and nothing may get through that should
# not: every message ends up in the Maildir (encrypted where it must
# be) or was refused with 4xx and sent again, and the counts say so.
#
#   1. the milter killed under Postfix (milter_default_action =
#      tempfail, as contrib/postfix/main.cf has it) while a client
#      (tests/e2e/smtp-step.pl) holds a transaction to alice (S/MIME)
#      open, after RCPT and in the middle of DATA: 4xx, nothing
#      delivered, nothing queued; the retry after the restart goes out
#      encrypted.  Mail from sendmail(1) (non_smtpd_milters) is the
#      one path where Postfix keeps the message across the milter's
#      death (in its maildrop): delivered encrypted after postqueue -f.
#   2. smilla-policyd killed under Postfix, with the default_action
#      smilla-policyd(8) recommends where require_table is used
#      (DEFER_IF_PERMIT): a required client gets 4xx, never a pass;
#      after the restart it passes.
#   3. the milter killed under Sendmail (F=T, contrib/sendmail/smilla.mc)
#      in the same two places as in 1.
set -eu
export LC_ALL=C
. "$(dirname "$0")/../lib/tap.sh"
require_bed
. "$(dirname "$0")/../lib/mta.sh"
mta_setup crash tmp sm
pf="$work/pf"
MILTERS="a"
declare -A mpid=()
SM_MILTER=a
. "$here/../lib/mail.sh"
. "$here/../lib/proc.sh"
. "$here/../lib/tls.sh"
. "$here/../lib/sendmail.sh"
pd=""
cleanup() {
	sendmail_kill
	"$PF_SH" stop "$pf" >/dev/null 2>&1 || true
	milters_kill
	[ -n "$pd" ] && kill -TERM "$pd" 2>/dev/null || true
}
trap cleanup EXIT

# The count: every transaction a test starts ($sent) is either delivered
# ($total, the messages the Maildir must hold, summed over the three
# parts in $delivered) or refused with 4xx ($refused), and each refused
# message is sent again ($retried).
sent=0 refused=0 retried=0 total=0 delivered=0

# step_kill NAME PAUSE PORT NAME-OF-PID: msg/NAME to alice@smilla.test
# over plain SMTP to 127.0.0.1:PORT with smtp-step.pl, which stops at
# PAUSE (rcpt: after RCPT; data: in the middle of the message); there
# the process ${mpid[NAME-OF-PID]} gets SIGKILL (a test point: it died
# of it), then the client goes on.  Sets end to its last line
# ("end COMMAND REPLY").
step_kill() {
	local name=$1 pause=$2 port=$3 m=$4 line rc so si
	sent=$((sent + 1))
	coproc STEP { perl "$here/smtp-step.pl" "$port" "$work/msg/$name.wire" "$pause" \
		sender@client.test alice@smilla.test 2>"$work/out/$name.step"; }
	exec {so}<&"${STEP[0]}" {si}>&"${STEP[1]}"
	read -r -t 30 line <&"$so" || line=""
	is "$line" paused "  the client holds its transaction open ($pause)"
	kill -KILL "${mpid[$m]}"
	wait "${mpid[$m]}" 2>/dev/null && rc=0 || rc=$? # no "Killed" line
	is "$rc" 137 "  milter $m killed (SIGKILL) meanwhile"
	mpid[$m]=""
	echo go >&"$si"
	read -r -t 60 end <&"$so" || end=""
	exec {so}<&- {si}>&-
	wait "$STEP_PID" || true
}

# refused_ok NAME WHAT PATTERN QUEUED: the client's transaction ended in
# a reply matching PATTERN (a 4xx), nothing of NAME is in the Maildir
# and the MTA holds nothing (QUEUED: the command that counts its queue).
refused_ok() {
	like "$end" "$3" "$2"
	diag "$end"
	unlike "$end" '^end queued ' "  not accepted"
	is "$(grep -rl "^Subject: milter-$1" "$PF_MAILDIR/new" "$PF_MAILDIR/cur" 2>/dev/null | wc -l)" 0 \
		"  nothing delivered"
	is "$($4)" 0 "  nothing queued"
	refused=$((refused + 1))
}
pf_queued() { postqueue -c "$PF_CONF" -j | wc -l; }

# retry_ok NAME: the client's retry, delivered encrypted to alice, who
# decrypts it byte-exact.
retry_ok() {
	sent=$((sent + 1))
	retried=$((retried + 1))
	deliver "$1" alice@smilla.test 1 "  the client's retry after the restart"
	encrypted_ok "$m" 1 aes256-cbc
	check "  alice decrypts it byte-exact" decrypts_to "$m" alice "$1"
}

# kill_msg NAME: a message to alice whose body has a line that must
# never reach the Maildir in clear ("CLEAR-TEXT-NAME").
kill_msg() {
	msg "$1" alice@smilla.test <<EOF
MIME-Version: 1.0
Content-Type: text/plain; charset=us-ascii

Sent while the milter dies: it must wait, never go out in clear.
CLEAR-TEXT-$1
$(seq 1 40)
EOF
	entity "$1"
}
# in_clear: Maildir files with a CLEAR-TEXT line.
in_clear() { grep -rl '^CLEAR-TEXT-' "$PF_MAILDIR/new" "$PF_MAILDIR/cur" 2>/dev/null | wc -l; }

# part_end: the part's Postfix ends: postfix_end $total, the
# count carried into $delivered.
part_end() {
	postfix_end "$total"
	delivered=$((delivered + total))
	total=0
}

# ------------------------------------------------------------------ 1. the milter killed, Postfix

: >"$work/a-require.tbl"
milter_conf a "local_domains = mx.smilla.test"
milters_start || { done_testing; exit 1; }
export PF_EXTRA_DOMAINS="smilla.test"
# shellcheck disable=SC2016 # Postfix's $smtpd_milters
PF_MAIN_EXTRA='non_smtpd_milters = $smtpd_milters' postfix_start || { done_testing; exit 1; }

kill_msg pf-rcpt
step_kill pf-rcpt rcpt "$PF_PORT" a
refused_ok pf-rcpt "Postfix, the milter killed after RCPT: 451 4.7.1 to DATA" \
	'^end DATA 451 4\.7\.1 Service unavailable - try again later$' pf_queued
like "$(cat "$PF_LOG")" "milter-reject: DATA from .*: 451 4\\.7\\.1 .*from=<sender@client\\.test> to=<alice@smilla\\.test>" \
	"  Postfix's log: milter-reject at DATA (milter_default_action = tempfail)"
milter_start a || { done_testing; exit 1; }
retry_ok pf-rcpt

kill_msg pf-data
step_kill pf-data data "$PF_PORT" a
refused_ok pf-data "Postfix, the milter killed during DATA: 451 4.7.1 to the end of data" \
	'^end \. 451 4\.7\.1 Service unavailable - try again later$' pf_queued
like "$(cat "$PF_LOG")" "milter-reject: END-OF-MESSAGE from .*: 4\\.7\\.1 Service unavailable" \
	"  Postfix's log: milter-reject at END-OF-MESSAGE"
milter_start a || { done_testing; exit 1; }
retry_ok pf-data

# sendmail(1): the milter dead when pickup hands the message to
# cleanup; the message stays in the maildrop queue.
kill_msg local
kill -KILL "${mpid[a]}"
wait "${mpid[a]}" 2>/dev/null || true
mpid[a]=""
sent=$((sent + 1))
sendmail -C "$PF_CONF" -f sender@client.test alice@smilla.test <"$work/msg/local.eml" && rc=0 || rc=$?
is "$rc" 0 "sendmail(1) while the milter is dead: taken (into the maildrop)"
for _ in $(seq 1 100); do
	grep -q 'postfix/cleanup.*milter-reject: CONNECT .*4\.7\.1 Service unavailable' "$PF_LOG" && break
	sleep 0.1
done
like "$(cat "$PF_LOG")" 'milter-reject: CONNECT from localhost.*: 4\.7\.1 Service unavailable - try again later; from=<sender@client\.test>' \
	"  pickup's cleanup: milter-reject (tempfail)"
drop=$(find "$pf/queue/maildrop" -type f)
is "$(printf '%s' "$drop" | grep -c .)" 1 "  the message stays in the maildrop queue"
is "$(postqueue -c "$PF_CONF" -j | grep -c '"queue_name": *"maildrop"')" 1 "  postqueue lists it there"
is "$(in_clear)" 0 "  nothing in the Maildir in clear"
milter_start a || { done_testing; exit 1; }
check "  still there with the milter back (pickup waits for its next run)" [ -f "$drop" ]
postqueue -c "$PF_CONF" -f
qid=${drop##*/} # delivered waits only for accepted messages
total=$((total + 1))
m=$(delivered local 1) && rc=0 || rc=$?
is "$rc" 0 "  after the restart and postqueue -f: delivered"
encrypted_ok "$m" 1 aes256-cbc
check "  alice decrypts it byte-exact" decrypts_to "$m" alice local

is "$(in_clear)" 0 "part 1: no message in the Maildir in clear"
part_end

# ------------------------------------------------------------------ 2. smilla-policyd killed

# good.smilla.test must authenticate; its certificate matches its TLSA
# record, so with the daemon running it passes.
echo good.smilla.test >"$work/require.tbl"
{
	cat "$BED_DIR/smilla.conf"
	echo "authserv_id = mx.smilla.test"
	echo "db_path = $work/policyd.db"
	echo "require_table = $work/require.tbl"
	echo "listen = unix:$work/policy.sock"
	echo "socket_mode = 0666"
} >"$work/policyd.conf"
policyd_start() {
	"$SMILLA_BUILD/smilla-policyd" -c "$work/policyd.conf" 2>>"$work/policyd.log" &
	pd=$!
	wait_socket "$work/policy.sock"
	check "smilla-policyd listening on $work/policy.sock" [ -S "$work/policy.sock" ]
}

# auth_msg NAME: a message to user@mx.smilla.test.  auth_send NAME
# [HELO CERT]: send it from HELO with CERT's certificate (or from
# client.test without one); end: the first refusal swaks saw.
auth_msg() {
	msg "$1" user@mx.smilla.test <<'EOF'
Content-Type: text/plain; charset=us-ascii

From a client that must authenticate, or from one that need not.
EOF
}
auth_send() {
	local tls=()
	[ $# -gt 1 ] && tls=(--ehlo "$2" --tls-cert "$certs/$3.pem" --tls-key "$certs/$3.key")
	sent=$((sent + 1))
	send "$1" user@mx.smilla.test "${tls[@]}"
	end="end $(grep -E '^<(\*\*|~\*) ' "$work/out/$1.out" | head -n1)"
}
# auth_ok NAME [HEADER]: delivered; with HEADER, with a
# DANE-Client-Auth: pass header for good.smilla.test.
auth_ok() {
	total=$((total + 1))
	m=$(delivered "$1" 1) || true
	check "  delivered" [ -n "$m" ]
	if [ -n "${2:-}" ]; then
		like "$(hdr "$m" DANE-Client-Auth)" '^pass \(identity=good\.smilla\.test; ' "  DANE-Client-Auth: pass"
	fi
}

# policy_case WHERE PATTERN: a Postfix calling smilla-policyd with the
# default_action smilla-policyd(8) recommends with require_table,
# DEFER_IF_PERMIT; WHERE=rcpt: its check at RCPT and at DATA, WHERE=data:
# at DATA only (contrib/postfix/main.cf's default).  The required client
# passes; with the daemon killed it and a client not in require_table
# are deferred (a 450 4.7.1 matching PATTERN, no header); after the
# restart both are accepted, the required one with its pass.
policy_case() {
	local w=$1 extra=""
	[ "$w" = data ] && extra="smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination"
	policyd_start
	PF_MAIN_EXTRA=$extra PF_POLICY_DEFAULT_ACTION=DEFER_IF_PERMIT \
		"$PF_SH" start "$pf" "unix:$work/policy.sock" >"$work/pf-start.log" 2>&1 && rc=0 || rc=$?
	is "$rc" 0 "Postfix calling smilla-policyd at ${w^^}, default_action=DEFER_IF_PERMIT"
	. "$pf/postfix.env"
	auth_msg "$w-up"
	auth_send "$w-up" good.smilla.test good
	is "$rc" 0 "  required client, daemon up: accepted"
	auth_ok "$w-up" header

	kill -KILL "$pd"
	wait "$pd" 2>/dev/null && rc=0 || rc=$?
	is "$rc" 137 "  smilla-policyd killed (SIGKILL)"
	pd=""
	auth_msg "$w-down"
	auth_send "$w-down" good.smilla.test good
	refused_ok "$w-down" "  the same client, daemon dead: deferred at ${w^^}, not a pass" "$2" pf_queued
	like "$(cat "$PF_LOG")" "warning: problem talking to server .*policy\\.sock" \
		"  Postfix's log: it could not ask the daemon"
	like "$(grep "reject: ${w^^} " "$PF_LOG" | tail -n1)" 'helo=<good\.smilla\.test>' \
		"  Postfix's log: the deferral, for this client"
	auth_msg "$w-other"
	auth_send "$w-other"
	refused_ok "$w-other" "  a client not in require_table: deferred too (Postfix cannot tell them apart)" \
		"$2" pf_queued

	policyd_start
	retried=$((retried + 2))
	auth_send "$w-down" good.smilla.test good
	is "$rc" 0 "  after the restart: the required client's retry accepted"
	auth_ok "$w-down" header
	auth_send "$w-other"
	is "$rc" 0 "  the other client's retry accepted"
	auth_ok "$w-other"
	part_end
	kill -TERM "$pd"
	wait "$pd" && rc=0 || rc=$?
	is "$rc" 0 "  smilla-policyd exits 0 on SIGTERM"
	pd=""
}
policy_case rcpt '^end <(\*\*|~\*) +450 4\.7\.1 <user@mx\.smilla\.test>: Recipient address rejected: '
policy_case data '^end <(\*\*|~\*) +450 4\.7\.1 '
unlike "$(cat "$work/policyd.log")" 'AddressSanitizer|LeakSanitizer|runtime error:' \
	"no sanitizer report in smilla-policyd's log"

# ------------------------------------------------------------------ 3. the milter killed, Sendmail

postfix_start sink || { done_testing; exit 1; }
sendmail_fetch || { done_testing; exit 1; }
sendmail_start || { done_testing; exit 1; }
MTA_SEND=sendmail_send
sm_queued() { echo $(($(sendmail_queued) + $(pf_queued))); }

kill_msg sm-rcpt
step_kill sm-rcpt rcpt "$SM_PORT" a
refused_ok sm-rcpt "Sendmail (F=T), the milter killed after RCPT: 451 4.3.2 to DATA" \
	'^end DATA 451 4\.3\.2 Please try again later$' sm_queued
milter_start a || { done_testing; exit 1; }
retry_ok sm-rcpt

kill_msg sm-data
step_kill sm-data data "$SM_PORT" a
refused_ok sm-data "Sendmail (F=T), the milter killed during DATA: 451 4.3.2 to the end of data" \
	'^end \. 451 4\.3\.2 Please try again later$' sm_queued
milter_start a || { done_testing; exit 1; }
retry_ok sm-data
is "$(in_clear)" 0 "part 3: no message in the Maildir in clear"

sendmail_end
part_end
milters_end

# ------------------------------------------------------------------ the count

is "$sent" "$((delivered + refused))" \
	"every message sent ($sent) was delivered ($delivered) or refused with 4xx ($refused)"
is "$retried" "$refused" "  and every refused one was sent again ($retried)"
nothing_left "milters, smilla-policyd, Sendmail, Postfix"
echo "# crash.t: $(awk -v a="$t_start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }') s"
trap - EXIT
done_testing
