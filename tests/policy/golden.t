#!/bin/sh
# Policy protocol golden tests: each golden/NAME.in is fed to
# smilla-policyd -s (stdin/stdout, as under spawn(8)) against the DNSSEC
# test bed and its answers must equal golden/NAME.ref byte for byte.
# bad-*.in hold a malformed or oversized request after a good one: the
# good one is answered, then the connection is closed without a reply.
# SMILLA_BLESS=1 writes missing .ref files (review them before commit).
set -eu
. "$(dirname "$0")/../dnssec/tap.sh"
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
	sed -e "s/@GOOD_CERT@/$GOOD_CERT_SHA256_COLON/g" \
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
done_testing
