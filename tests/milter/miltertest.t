#!/bin/bash
# The milter under Debian's miltertest (a real milter client): the
# callback sequence, aborted messages, several messages per
# connection, and hostile input.  Each Lua script raises an error on
# the first failed check; the milter (the ASan build) must survive all
# of them and log one line per message.  address.lua sends spellings
# of a required address, unreadable addresses, and duplicates.
# miltertest 2.11 crashes on a replaced body past about 1 KB, so encrypted messages here stay small;
# large ones go through Postfix in tests/e2e/milter.t.
set -eu
. "$(dirname "$0")/../lib/tap.sh"
require_bed

here=$(cd "$(dirname "$0")" && pwd)
work="$BED_DIR/miltertest"
rm -rf "$work"
mkdir -p "$work"
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null || true; }
trap cleanup EXIT

# A real S/MIME body for several.lua: base64 with CRLF line ends.
printf 'Content-Type: text/plain\r\n\r\nsecret\r\n' |
	openssl cms -encrypt -binary -aes256 -outform DER "$BED_DIR/certs/alice.pem" |
	base64 -w 64 | sed 's/$/\r/' > "$work/smime.b64"
check "openssl made an S/MIME body" [ -s "$work/smime.b64" ]
export MT_SMIME="$work/smime.b64"

printf 'required.smilla.test\nmust@smilla.test\n' > "$work/require.tbl"
{ cat "$BED_DIR/smilla.conf"
  echo "db_path = $work/smilla.db"
  echo "milter_socket = unix:$work/smilla.sock"
  echo "require_encryption_table = $work/require.tbl"
  echo "max_memory_body = 65536"; } > "$work/smilla.conf"
"$SMILLA_BUILD/smilla" -f -c "$work/smilla.conf" 2> "$work/smilla.log" &
pid=$!
wait_socket "$work/smilla.sock"
check "smilla listening on a unix socket" [ -S "$work/smilla.sock" ]

for s in sequence abort several badinput escape address; do
	MT_SOCK="unix:$work/smilla.sock" MT_DIR="$here" \
		miltertest -s "$here/$s.lua" > "$work/$s.out" 2>&1 && rc=0 || rc=$?
	is "$rc" 0 "$s.lua: every check passed ($(grep -c '^ok:' "$work/$s.out") checks)"
	[ "$rc" = 0 ] || sed 's/^/# /' "$work/$s.out" | tail -n 5
	check "  smilla still running" kill -0 "$pid"
done

log=$(cat "$work/smilla.log")
like "$log" 'queue_id=SEQ1 from=<sender@client\.test> rcpts=alice@smilla\.test:secure action=encrypted size=[0-9]+ ms=[0-9]+' \
	"one log line per message: queue id, recipient states, action, size, time"
like "$log" 'queue_id=SEQ2 rcpt=<nobody@required\.smilla\.test> state=none .*refused="550 5\.7\.1 ' \
	"a refused recipient is logged with its reply"
like "$log" 'queue_id=M2 from=<sender@client\.test> rcpts=alice@smilla\.test:secure,nobody@smilla\.test:none action=plaintext reason="no-key"' \
	"mixed recipients: both states logged"
like "$log" 'queue_id=M3 .*action=encrypted' \
	"an S/MIME label over what is not CMS EnvelopedData: encrypted"
like "$log" 'queue_id=M3 not-encrypted="smime: not a CMS ContentInfo' \
	"  and a notice says why it did not verify"
like "$log" 'queue_id=M4 .*action=encrypted' \
	"plaintext quoting a PGP armor block: encrypted"
like "$log" 'queue_id=M6 .*action=untouched reason="already-encrypted"' \
	"a real S/MIME EnvelopedData: logged as untouched"
is "$(grep -c 'queue_id=AB[1246] .*action=' "$work/smilla.log" || true)" 0 \
	"aborted messages are not logged as delivered"
like "$log" 'queue_id=ESC1 from=<evil\\x1b\[2J\\x0dx@client\.test> ' \
	"a sender's ESC and CR are logged escaped"
like "$log" 'queue_id=ESC1 rcpt=<\\x22a(\\x1b|\?)\]0;pwn(\\x07|\?)\\x20state=secure\\x22@required\.smilla\.test> state=' \
	"  and so is a refused recipient's address: its fake field is not a field"
like "$log" 'queue_id=ESC1 from=.* rcpts=alice@smilla\.test:secure,\\x22a(\\x1b|\?)\]0;pwn(\\x07|\?)\\x20state=secure\\x22@required\.smilla\.test:skipped\(refused\) action=encrypted' \
	"  and in the message's rcpts= list"
check "no control character in the milter's log" \
	sh -c "! LC_ALL=C tr -d '\n' < '$work/smilla.log' | LC_ALL=C grep -q '[[:cntrl:]]'"
like "$log" 'queue_id=ADDR1 rcpt=<MUST@smilla\.test> state=none .*refused="550 5\.7\.1 ' \
	"a required address in upper case is refused"
like "$log" 'queue_id=ADDR1 rcpt=<must@smilla\.test> state=none .*refused="550 5\.7\.1 encryption required for <must@smilla\.test>' \
	"a quoted one too, logged unquoted"
like "$log" 'queue_id=ADDR1 rcpt=<ca\?\[31mrol@smilla\.test> state=skipped .*refused="501 5\.1\.3 ' \
	"ESC in an address: 501 5.1.3, no raw control character logged"
is "$(grep -c "$(printf '\033')" "$work/smilla.log" || true)" 0 "no ESC in the log"
like "$log" 'queue_id=ADDR2 from=<sender@client\.test> rcpts=alice@smilla\.test:secure action=encrypted ' \
	"three spellings of alice: one recipient in the log line"
unlike "$log" 'ERROR: AddressSanitizer|runtime error' "no sanitizer reports"

kill "$pid"
wait "$pid" 2>/dev/null && rc=0 || rc=$?
pid=""
is "$rc" 0 "SIGTERM: clean exit"

# Every lookup is a decision in the reputation store (written on exit).
run "$SMILLA_BUILD/smillactl" -c "$work/smilla.conf" report
# One row per kind of key: alice passes by SMIMEA, has no OPENPGPKEY.
like "$out" '^alice@smilla\.test +[-0-9T:Z]+ +([1-9][0-9]*) +0 +\1 +0 +0 +0 +0 +1 +0$' "report: alice passes (S/MIME) as often as she has no OpenPGP key, one certificate, no changes"
like "$out" '^nobody@smilla\.test +[-0-9T:Z]+ +0 +0 +[1-9][0-9]* ' "report: nobody has none"
run "$SMILLA_BUILD/smillactl" -c "$work/smilla.conf" report --identity alice@smilla.test
like "$out" 'pass' "report --identity alice@smilla.test lists its decisions"
like "$out" ' pass +record=3 0 0 .* key_type=smimea key=[0-9a-fA-F]+ count=' \
	"  the milter's rows are of key type smimea"
done_testing
