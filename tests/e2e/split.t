#!/bin/bash
# smilla end to end, mixed_recipients = split, under Postfix: one
# message to recipients of different classes (S/MIME, OpenPGP, no key)
# is delivered to each in its own format: the milter keeps one group in
# the original, submits a copy for each other group to a second smtpd
# of the same Postfix that runs no milter (reinject_service), and takes
# those recipients off the original.
#
#   milter S: local_domains = mx.smilla.test (so *@smilla.test is
#             outbound), mixed_recipients = split, reinject_service the
#             second smtpd, max_message_size 200000
#
# The private Postfix (tests/e2e/postfix.sh) delivers every recipient
# into one Maildir; Delivered-To tells whose copy a file is.
set -eu
export LC_ALL=C
. "$(dirname "$0")/../lib/tap.sh"
require_bed
. "$(dirname "$0")/../lib/mta.sh"
mta_setup split tmp g
pf="$work/pf"
HOMES="bob"
MILTERS="s"
declare -A mpid=()
. "$here/../lib/mail.sh"
. "$here/../lib/proc.sh"
cleanup() {
	"$PF_SH" stop "$pf" >/dev/null 2>&1 || true
	milters_kill
	agents_kill
}
trap cleanup EXIT

# ------------------------------------------------------------------ milter, Postfix

RPORT=$(pick_port)
printf 'must@smilla.test\ncarol@smilla.test\n' >"$work/s-require.tbl"
split_conf() { # [LINE...]: milter S's configuration
	milter_conf s "local_domains = mx.smilla.test" "mixed_recipients = split" \
		"split_key_file = $work/split.key" "max_message_size = 200000" "$@"
}
split_conf "reinject_service = inet:127.0.0.1:$RPORT"
milters_start || { done_testing; exit 1; }
export PF_EXTRA_DOMAINS="smilla.test"
# The listener for the copies: the same Postfix, no milter.
export PF_MASTER_EXTRA="127.0.0.1:$RPORT inet n - n - - smtpd
  -o smtpd_milters= -o smtpd_milter_maps="
postfix_start || { done_testing; exit 1; }
check "split key made, mode 0600" [ "$(stat -c %a "$work/split.key")" = 600 ]

mkdir -m 700 "$work/g/bob"
gpg_in bob --import "$keys/bob-secret.pgp" >"$work/g/bob.log" 2>&1 && rc=0 || rc=$?
is "$rc" 0 "gpg home bob: key imported"

total=0 # messages expected in the Maildir


# ------------------------------------------------------------------ 1. three classes

msg three "alice@smilla.test, bob@smilla.test, nobody@smilla.test" <<'EOF'
MIME-Version: 1.0
X-Smilla-Split: v=1; t=1700000000; mac=00000000000000000000000000000000000000000000000000000000000000ff
Content-Type: text/plain; charset=us-ascii

One message, three recipients, three classes: each gets its own.
EOF
entity three
deliver three alice@smilla.test,bob@smilla.test,nobody@smilla.test 3 \
	"alice (S/MIME), bob (OpenPGP), nobody (no key) in one transaction"
split3_ok three
is "$(cat "$ma" "$mb" "$mn" | grep -c 'mac=0000000000')" 0 \
	"  the forged trace header is in no copy"
l=$(logline s "$qid")
like "$l" ' action=encrypted split="smime:1 kept; openpgp:1 queued_as=[0-9A-F]+; plaintext:1 queued_as=[0-9A-F]+" ' \
	"  log: the groups, the copies' queue ids"
for q in $(printf '%s' "$l" | grep -o 'queued_as=[0-9A-F]*' | sed 's/queued_as=//'); do
	like "$(grep -F "$q:" "$PF_LOG" | grep -F 'status=sent' | head -n1)" 'status=sent' \
		"  copy $q: delivered by Postfix"
done

# ------------------------------------------------------------------ 2. DSN parameters

msg dsn "alice@smilla.test, bob@smilla.test" <<'EOF'
Content-Type: text/plain; charset=us-ascii

The copy keeps NOTIFY and ORCPT.
EOF
dsn_send dsn "$PF_PORT"
is "$rc" 0 "NOTIFY and ORCPT for bob; BODY, RET and ENVID for the message (smtplib)"
qid=$(sed -n 's/^250 2\.0\.0 Ok: queued as \([0-9A-F]*\).*/\1/p' "$work/out/dsn.out")
total=$((total + 3)) # and bob's success notice to dsn@smilla.test
ms=$(delivered dsn 2) || true
mb=$(copy_of bob@smilla.test)
pgp_ok "$mb" 1
cq=$(logline s "$qid" | grep -o 'openpgp:1 queued_as=[0-9A-F]*' | sed 's/.*=//')
like "$(grep -F "$cq:" "$PF_LOG" | grep -F 'sender delivery status notification')" 'notification' \
	"  bob's copy: NOTIFY=SUCCESS kept, Postfix sends the sender a success notice"
dsn_report_ok "the success notice"

# ------------------------------------------------------------------ 3. the listener down, refusing, slow

msg down "alice@smilla.test, nobody@smilla.test" <<'EOF'
Content-Type: text/plain; charset=us-ascii

Sent while the listener for the copies is down: nothing goes out.
EOF
entity down
milter_stop s
split_conf "reinject_service = inet:127.0.0.1:$(pick_port "$RPORT" "$PF_PORT")" \
	"reinject_timeout = 5"
milter_start s
send down alice@smilla.test,nobody@smilla.test
like "$out" '<(\*\*|~\*) +451 4\.3\.0 ' "reinject_service down: the whole message tempfailed (451 4.3.0)"
is "$qid" "" "  nothing accepted"
like "$(grep 'split' "$work/s.log" | tail -n2)" 'reason="split: ' "  log: why (the copy was not taken)"
sleep 1
is "$(grep -rl '^Subject: milter-down' "$PF_MAILDIR/new" "$PF_MAILDIR/cur" 2>/dev/null | wc -l)" 0 \
	"  nothing delivered"
milter_stop s
split_conf "reinject_service = inet:127.0.0.1:$RPORT"
milter_start s
deliver down alice@smilla.test,nobody@smilla.test 2 "  the client's retry once it is back"
ma=$(copy_of alice@smilla.test)
check "  alice's copy decrypts byte-exact" decrypts_to "$ma" alice down
plaintext_ok "$(copy_of nobody@smilla.test)" down no-key 1 0

# A listener that answers 4xx, then 5xx, at RCPT (Postfix's smtp-sink):
# the same, nothing delivered.
sink=$(command -v smtp-sink || echo /usr/sbin/smtp-sink)
for how in "-r RCPT:4" "-f RCPT:5"; do
	SPORT=$(pick_port "$RPORT" "$PF_PORT")
	# shellcheck disable=SC2086 # the option and its argument
	"$sink" -u root ${how%:*} "127.0.0.1:$SPORT" 10 >"$work/sink.log" 2>&1 &
	spid=$!
	wait_listening "$SPORT" || true
	milter_stop s
	split_conf "reinject_service = inet:127.0.0.1:$SPORT"
	milter_start s
	send down alice@smilla.test,nobody@smilla.test
	like "$out" '<(\*\*|~\*) +451 4\.3\.0 ' "a listener answering ${how#*:}xx at RCPT: the whole message tempfailed"
	is "$qid" "" "  nothing accepted"
	like "$(grep 'reason="split: ' "$work/s.log" | tail -n1)" "RCPT TO <nobody@smilla\\.test>: \\\\x22${how#*:}" \
		"  log: the listener's answer"
	kill "$spid" 2>/dev/null; wait "$spid" 2>/dev/null || true
done

# A listener that takes the connection and never answers (not even its
# greeting): after reinject_timeout the whole message is tempfailed.
# Meanwhile the milter goes on with other sessions, and after it with
# the next message.
SPORT=$(pick_port "$RPORT" "$PF_PORT")
perl -MIO::Socket::INET -e '
	my $l = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => $ARGV[0],
		Listen => 5, ReuseAddr => 1) or die "listen: $!\n";
	$| = 1;
	my @held;
	while (my $c = $l->accept) { push @held, $c; print "accepted\n" }' "$SPORT" >"$work/slow.log" 2>&1 &
spid=$!
wait_listening "$SPORT" || true
milter_stop s
split_conf "reinject_service = inet:127.0.0.1:$SPORT" "reinject_timeout = 5"
milter_start s
msg slow "alice@smilla.test, nobody@smilla.test" <<'EOF'
Content-Type: text/plain; charset=us-ascii

Sent while the listener for the copies takes them and never answers.
EOF
entity slow
t0=$EPOCHREALTIME
send slow alice@smilla.test,nobody@smilla.test &
bg=$!
for _ in $(seq 1 100); do grep -q accepted "$work/slow.log" && break; sleep 0.1; done
is "$(grep -c accepted "$work/slow.log")" 1 "a listener that never answers: the milter's connection taken"
msg beside alice@smilla.test <<'EOF'
Content-Type: text/plain; charset=us-ascii

Another session's message, while the milter waits for the listener.
EOF
entity beside
deliver beside alice@smilla.test 1 "  meanwhile another session's message (alice alone: no copy)"
check "  handled while the first still waits for the listener" alive "$bg"
check "  alice decrypts it" decrypts_to "$m" alice beside
wait "$bg" || true
t=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
out=$(cat "$work/out/slow.out")
like "$out" '<(\*\*|~\*) +451 4\.3\.0 ' "  the whole message tempfailed (451 4.3.0), after $t s"
check "  not before reinject_timeout (5 s)" awk -v t="$t" 'BEGIN { exit !(t >= 5) }'
unlike "$out" 'queued as' "  nothing accepted"
like "$(grep 'reason="split: ' "$work/s.log" | tail -n1)" 'timed out' "  log: the listener timed out"
is "$(grep -rl '^Subject: milter-slow' "$PF_MAILDIR/new" "$PF_MAILDIR/cur" 2>/dev/null | wc -l)" 0 \
	"  nothing delivered"
msg after alice@smilla.test <<'EOF'
Content-Type: text/plain; charset=us-ascii

The next message, after the one that timed out.
EOF
entity after
deliver after alice@smilla.test 1 "  the next message: the milter's worker not stuck"
check "  alice decrypts it" decrypts_to "$m" alice after
kill "$spid" 2>/dev/null
wait "$spid" 2>/dev/null || true
milter_stop s
split_conf "reinject_service = inet:127.0.0.1:$RPORT"
milter_start s
is "$(grep -rl '^Subject: milter-down' "$PF_MAILDIR/new" "$PF_MAILDIR/cur" 2>/dev/null | wc -l)" 2 \
	"  still only the retry's two deliveries"
deliver slow alice@smilla.test,nobody@smilla.test 2 "  the slow listener's message, retried once it is back"
check "  alice's copy decrypts byte-exact" decrypts_to "$(copy_of alice@smilla.test)" alice slow
plaintext_ok "$(copy_of nobody@smilla.test)" slow no-key 1 0

# Required recipients keep their rules: no key, refused at RCPT.
msg req "must@smilla.test" <<'EOF'
Content-Type: text/plain

Must not be delivered.
EOF
send req must@smilla.test
like "$out" '<(\*\*|~\*) +550 5\.7\.1 .*encryption required for <must@smilla\.test>' \
	"split mode: a required recipient without a key is still refused (550 5.7.1)"

# ------------------------------------------------------------------ 4. a loop

# reinject_service pointed at the smtpd that runs smilla: the copy comes
# back, its trace header holds, and it passes untouched, once.
msg loop "alice@smilla.test, bob@smilla.test, nobody@smilla.test" <<'EOF'
Content-Type: text/plain; charset=us-ascii

The copy comes back through smilla: neither split nor encrypted again.
EOF
entity loop
milter_stop s
split_conf "reinject_service = inet:127.0.0.1:$PF_PORT"
milter_start s
deliver loop alice@smilla.test,bob@smilla.test,nobody@smilla.test 3 "reinject_service through smilla itself"
is "$(whose $ms | sed 's/=.*//' | sort | tr '\n' ' ')" "alice@smilla.test bob@smilla.test nobody@smilla.test " \
	"  three deliveries, one each"
check "  alice's decrypts" decrypts_to "$(copy_of alice@smilla.test)" alice loop
check "  bob's decrypts (encrypted once)" gpg_decrypts_to "$(copy_of bob@smilla.test)" bob loop
plaintext_ok "$(copy_of nobody@smilla.test)" loop no-key 1 0
is "$(grep -c 'action=untouched reason="split-copy"' "$work/s.log")" 2 \
	"  log: the two copies that came back passed untouched"
milter_stop s
split_conf "reinject_service = inet:127.0.0.1:$RPORT"
milter_start s

# ------------------------------------------------------------------ 5. too big

{
	printf 'Content-Type: text/plain; charset=us-ascii\n\n'
	head -c 220000 /dev/urandom | base64 -w 76
} | msg big "alice@smilla.test, nobody@smilla.test"
deliver big alice@smilla.test,nobody@smilla.test 2 "over max_message_size (200000): not split"
plaintext_ok "$m" big no-key 2 1
l=$(logline s "$qid")
like "$l" ' action=plaintext reason="no-key" ' "  log: plaintext, as the whole message would be"
unlike "$l" 'split=' "  no copies"
{
	printf 'Content-Type: text/plain; charset=us-ascii\n\n'
	head -c 220000 /dev/urandom | base64 -w 76
} | msg bigone "alice@smilla.test"
deliver bigone alice@smilla.test 1 "  to alice alone: plaintext, too-big, as without split"
plaintext_ok "$m" bigone too-big 1 1
{
	printf 'Content-Type: text/plain; charset=us-ascii\n\n'
	head -c 220000 /dev/urandom | base64 -w 76
} | msg bigreq "carol@smilla.test, nobody@smilla.test"
send bigreq carol@smilla.test,nobody@smilla.test
like "$out" '<(\*\*|~\*) +552 5\.3\.4 ' "  to required carol and keyless nobody: 552 5.3.4 (never plaintext, never split)"
is "$qid" "" "  nothing accepted"

# Recipients who share a format are not split: one message.
msg shared "bob@smilla.test, carol@smilla.test" <<'EOF'
Content-Type: text/plain; charset=us-ascii

Bob has OpenPGP, carol both: one PGP/MIME message for the two.
EOF
entity shared
deliver shared bob@smilla.test,carol@smilla.test 2 "bob and carol (a format in common)"
pgp_ok "$m" 2
check "  bob decrypts it" gpg_decrypts_to "$(copy_of bob@smilla.test)" bob shared
unlike "$(logline s "$qid")" 'split=' "  not split"

# ------------------------------------------------------------------ 6. many recipients

rc_list="" n_s=0 n_p=0 n_n=0
for i in $(seq -w 1 10); do rc_list="$rc_list,rcpt$i@smilla.test"; n_s=$((n_s + 1)); done
for i in $(seq -w 1 10); do rc_list="$rc_list,pgp$i@smilla.test"; n_p=$((n_p + 1)); done
for i in $(seq -w 1 80); do rc_list="$rc_list,nokey$i@smilla.test"; n_n=$((n_n + 1)); done
rc_list=${rc_list#,}
msg many "undisclosed-recipients:;" <<'EOF'
Content-Type: text/plain; charset=us-ascii

One hundred recipients in three classes.
EOF
deliver many "$rc_list" 100 "100 recipients: 10 S/MIME, 10 OpenPGP, 80 without a key"
is "$(whose $ms | sed 's/=.*//' | sort -u | wc -l)" 100 "  100 deliveries, each recipient once"
like "$(logline s "$qid")" " split=\"smime:$n_s kept; openpgp:$n_p queued_as=[0-9A-F]+; plaintext:$n_n queued_as=[0-9A-F]+\" " \
	"  log: the three groups"
is "$(for f in $ms; do hdr "$f" X-Smilla | sed 's/;.*//'; done | sort | uniq -c | sed 's/^ *//' | tr '\n' ',')" \
	"10 encrypted pgp,10 encrypted smime,80 plaintext," "  10 PGP/MIME, 10 S/MIME, 80 plaintext"

# ------------------------------------------------------------------ the end

mta_end "$total"
# One delivery row per recipient of every message and copy that went
# on (the copies when they were taken, not again when one came back
# through smilla), so as many as the Maildir holds but for section 2's
# success notice, which Postfix made; and alice's and bob's encrypted
# copies in their own formats.
q() { sqlite3 -separator ' ' "$work/s.db" "$1"; }
is "$(q "SELECT sum(count) FROM rep_events WHERE key_type = 'delivery'
	AND action IN ('encrypted', 'plaintext', 'untouched')")" "$((total - 1))" \
	"delivery rows: one per message delivered but the notice ($((total - 1)))"
is "$(q "SELECT count(*) FROM rep_events WHERE key_type = 'delivery' AND action = 'untouched'")" 0 \
	"  none for the copies that came back untouched"
is "$(q "SELECT DISTINCT identity, format FROM rep_events WHERE key_type = 'delivery'
	AND identity IN ('alice@smilla.test', 'bob@smilla.test') AND action = 'encrypted'
	ORDER BY 1, 2")" "alice@smilla.test smime
bob@smilla.test openpgp" "  alice's mail encrypted as S/MIME, bob's as PGP/MIME, kept or copied"
agents_kill
nothing_left "milter, Postfix, gpg-agents"
echo "# split.t: $(awk -v a="$t_start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }') s"
trap - EXIT
done_testing
