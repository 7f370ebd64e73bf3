#!/bin/sh
# Policy protocol golden tests: each golden/NAME.in is fed to
# smilla-policyd -s (stdin/stdout, as under spawn(8)) against the DNSSEC
# test bed and its answers must equal golden/NAME.ref byte for byte.
# bad-*.in hold a malformed or oversized request after a good one: the
# good one is answered, then the connection is closed without a reply.
# Lines starting with '#' are comments, removed before the daemon reads
# the file: before each request, what it tests and "# Expect: TEXT", how
# its answer's action starts, or "# Expect: no answer" (a malformed
# request, and any after it).  Each request has one, and the answers
# must agree with them.
# SMILLA_BLESS=1 writes missing .ref files (review them before commit).
set -eu
. "$(dirname "$0")/../lib/tap.sh"
require_bed

here=$(cd "$(dirname "$0")" && pwd)
pd="$SMILLA_BUILD/smilla-policyd"
work="$BED_DIR/golden"
rm -rf "$work"
mkdir -p "$work"

{ cat "$BED_DIR/smilla.conf"; echo "authserv_id = mx.smilla.test"
  echo "db_path = $work/smilla.db"; } > "$work/plain.conf"
cat > "$work/require.tbl" <<'TBL'
# identities that must authenticate
bad.smilla.test
host.bogus.smilla.test
malformed.smilla.test
nothere.smilla.test
host.slow.smilla.test
.required.smilla.test
TBL
{ cat "$work/plain.conf"; echo "require_table = $work/require.tbl"; } > "$work/require.conf"

for in in "$here"/golden/*.in; do
	name=$(basename "$in" .in)
	ref="$here/golden/$name.ref"
	case $name in req-*) conf=require ;; *) conf=plain ;; esac
	sed -e '/^#/d' -e "s/@GOOD_CERT@/$GOOD_CERT_SHA256_COLON/g" \
	    -e "s/@GOOD_SPKI@/$GOOD_SPKI_SHA256_COLON/g" "$in" > "$work/$name.in"
	set +e
	"$pd" -c "$work/$conf.conf" -s < "$work/$name.in" > "$work/$name.out" 2> "$work/$name.log"
	rc=$?
	set -e
	is "$rc" 0 "$name: daemon exits 0"
	if [ ! -f "$ref" ] && [ "${SMILLA_BLESS:-}" = 1 ]; then
		cp "$work/$name.out" "$ref"
	fi
	if diff -u "$ref" "$work/$name.out" > "$work/$name.diff" 2>&1; then
		ok 0 "$name: answers equal $name.ref"
	else
		ok 1 "$name: answers equal $name.ref"
		sed 's/^/#   /' "$work/$name.diff" | head -40
	fi
	# The "# Expect:" lines, one per request, against the answers in order.
	grep -a '^# Expect: ' "$in" | sed 's/^# Expect: //' > "$work/$name.expect" || true
	is "$(wc -l < "$work/$name.expect")" "$(grep -ac '^request=' "$in")" \
		"$name: one '# Expect:' comment per request"
	sed -n 's/^action=//p' "$work/$name.out" > "$work/$name.actions"
	wrong=$(awk -v NA="no answer" '
		NR == FNR { want[++n] = $0; next }
		{ got[++m] = $0 }
		END {
			j = 0
			for (i = 1; i <= n; i++) {
				if (want[i] == NA) continue
				j++
				if (substr(got[j], 1, length(want[i])) != want[i])
					printf "request %d: want \"%s...\", got \"%s\"\n", i, want[i], got[j]
			}
			if (j != m) printf "%d answers expected, %d given\n", j, m
		}' "$work/$name.expect" "$work/$name.actions")
	is "$wrong" "" "$name: the answers are what '# Expect:' says"
	answers=$(grep -c '^action=' "$work/$name.out" || true)
	decisions=$(grep -c ' result=' "$work/$name.log" || true)
	is "$decisions" "$answers" "$name: one log line per answer"
	case $name in bad-*)
		like "$(cat "$work/$name.log")" 'malformed request|connection closed inside a request' \
			"$name: logged as malformed"
		is "$answers" 1 "$name: only the request before it is answered"
	esac
done

# The reputation store saw the decisions (flushed at exit).
n=$(sqlite3 "$work/smilla.db" "select sum(count) from rep_events where result='pass' and identity='good.smilla.test'")
check "reputation events recorded ($n pass events)" [ "$n" -gt 5 ]

# smillactl report reads the same store.
ctl="$SMILLA_BUILD/smillactl -c $work/plain.conf"
run $ctl report
is "$rc" 0 "smillactl report"
like "$out" '^good\.smilla\.test +[0-9TZ:-]+ +[1-9][0-9]* +1 +0 +2 +2 +0 +0 +1 +0$' \
	"  good.smilla.test: passes, one fail, two nocert, two unusable, one key, no change"
like "$out" '^host\.bogus\.smilla\.test .* 0 +0 +0 +0 +0 +2 +0 ' "  bogus counted"
run $ctl report --identity GOOD.smilla.test.
like "$out" 'pass +record=3 1 1 client=\[127\.0\.0\.1\] helo=good\.smilla\.test tls=TLSv1\.3' \
	"report --identity: events with record, client, TLS"
like "$out" 'pass +record=3 1 1 client=\[127\.0\.0\.1\] helo=good\.smilla\.test tls=TLSv1\.3 key_type=tlsa key=[0-9A-F:]+ count=' \
	"  the policy daemon's rows are of key type tlsa"
total=$(printf '%s\n' "$out" | sed -n 's/.* pass .* count=\([0-9]*\)$/\1/p' | awk '{ s += $1 } END { print s + 0 }')
is "$total" "$n" "report --identity: the rows' counts add up to the pass decisions"
run $ctl report --json --since 1h
n=$(printf '%s' "$out" | perl -MJSON::PP -e '
	my $j = decode_json(join "", <STDIN>);
	my ($g) = grep { $_->{identity} eq "host.slow.smilla.test" } @{$j->{identities}};
	print $g->{temperror}')
is "$n" 2 "report --json: temperror count"
run $ctl report --since 3x
is "$rc" 64 "report with a bad duration: usage error"
run $ctl report --identity nobody.smilla.test
is "$rc" 1 "report for an unknown identity: exit 1"

# A client's text never reaches the log or a report raw: a HELO with
# ESC and CR (terminal escapes, a forged line), a client name that tries
# to add a field.  Its own store, so the counts above stay as they are.
{ cat "$BED_DIR/smilla.conf"; echo "db_path = $work/hostile.db"; } > "$work/hostile.conf"
esc=$(printf '\033')
cr=$(printf '\r')
printf 'request=smtpd_access_policy\nprotocol_state=RCPT\nhelo_name=evil%s[2J%sresult=pass\nclient_address=127.0.0.1\nclient_name=x result=pass identity=good.smilla.test\nccert_fingerprint=%s\nccert_pubkey_fingerprint=%s\n\n' \
	"$esc" "$cr" "$GOOD_CERT_SHA256_COLON" "$GOOD_SPKI_SHA256_COLON" > "$work/hostile.in"
"$pd" -c "$work/hostile.conf" -s < "$work/hostile.in" > "$work/hostile.out" 2> "$work/hostile.log"
is "$(grep -c '^action=' "$work/hostile.out")" 1 "hostile client: answered"
check "hostile client: no ESC, CR or other control character in the log" \
	sh -c "! LC_ALL=C tr -d '\n' < '$work/hostile.log' | LC_ALL=C grep -q '[[:cntrl:]]'"
like "$(cat "$work/hostile.log")" 'helo=evil\\x1b\[2J\\x0dresult=pass identity=' \
	"  the HELO is logged escaped, and its fake field is not a field"
like "$(cat "$work/hostile.log")" 'client=x\\x20result=pass\\x20identity=good\.smilla\.test\[127' \
	"  the client name is one field"
hctl="$SMILLA_BUILD/smillactl -c $work/hostile.conf"
run $hctl report --json
id=$(printf '%s' "$out" | perl -MJSON::PP -e 'print decode_json(join "", <STDIN>)->{identities}[0]{identity}')
run $hctl report --identity "$id"
like "$out" 'helo=evil\\x1b\[2J\\x0dresult=pass tls=' "  smillactl report shows the HELO escaped"
check "  and prints no control character" \
	sh -c "! printf '%s' \"\$1\" | LC_ALL=C tr -d '\n' | LC_ALL=C grep -q '[[:cntrl:]]'" sh "$out"
run $hctl report --identity "$id" --json
h=$(printf '%s' "$out" | perl -MJSON::PP -e 'print decode_json(join "", <STDIN>)->{events}[0]{helo}')
is "$h" "evil${esc}[2J${cr}result=pass" "  report --json: valid JSON, the HELO as sent"
check "  report --json carries no raw control character" \
	sh -c "! printf '%s' \"\$1\" | LC_ALL=C tr -d '\n' | LC_ALL=C grep -q '[[:cntrl:]]'" sh "$out"
done_testing
