#!/bin/sh
# The plain (non-sanitizer) build under valgrind: unit tests and
# smillactl's real lookups, including a timeout and libunbound's threads.
# Any memory error or definite leak fails the test point.
set -eu
. "$(dirname "$0")/../lib/tap.sh"
require_bed

vg() {
	run valgrind -q --error-exitcode=99 --leak-check=full \
		--errors-for-leak-kinds=definite "$@"
}

for t in "$SMILLA_PLAIN"/tests/unit/test_*; do
	case $t in *.o|*.d) continue ;; esac	# objects and their dependency files
	vg "$t"
	is "$rc" 0 "valgrind $(basename "$t")"
	[ "$rc" = 0 ] || printf '%s\n' "$out" | grep -v '^ok' | sed 's/^/#   /' | head -30
done

ctl="$SMILLA_PLAIN/smillactl"
conf="$BED_DIR/smilla.conf"
vg "$ctl" -c "$conf" lookup tlsa good.smilla.test
is "$rc" 0 "valgrind smillactl lookup (secure)"
vg "$ctl" -c "$conf" lookup tlsa host.bogus.smilla.test --json
is "$rc" 2 "valgrind smillactl lookup (bogus)"
vg "$ctl" -c "$conf" lookup tlsa host.slow.smilla.test
is "$rc" 2 "valgrind smillactl lookup (timeout)"
vg "$ctl" -c "$conf" lookup openpgpkey bob@smilla.test
is "$rc" 0 "valgrind smillactl lookup openpgpkey"
vg "$ctl" -c "$conf" verify --cert "$BED_DIR/certs/ta.pem" \
	--chain "$BED_DIR/certs/chain.pem" --name ta.smilla.test
is "$rc" 0 "valgrind smillactl verify (DANE-TA)"
vg "$ctl" -c "$conf" gen openpgpkey --key "$BED_DIR/keys/bob.pgp" --email bob@smilla.test
is "$rc" 0 "valgrind smillactl gen openpgpkey"
vg "$ctl" -c "$conf" lookup tlsa good.smilla.test --cache
is "$rc" 0 "valgrind smillactl lookup --cache"
vg "$ctl" -c "$conf" selfcheck --cert "$BED_DIR/certs/good.pem" \
	--key "$BED_DIR/certs/good.key" --helo good.smilla.test \
	--email alice@smilla.test --email bob@smilla.test
is "$rc" 0 "valgrind smillactl selfcheck (TLSA, SMIMEA, OPENPGPKEY)"
vg "$ctl" -c "$conf" rollover --cert "$BED_DIR/certs/other.pem" \
	--name roll.smilla.test --current "$BED_DIR/certs/good.pem" --json
is "$rc" 0 "valgrind smillactl rollover"
# The report over a store of rows of every section and kind.
vgdir=$(mktemp -d "$BED_DIR/vgreport.XXXXXX")
"$SMILLA_PLAIN/tests/lib/repfill" "$vgdir/r.db" synth 2000
printf 'db_path = %s/r.db\n' "$vgdir" > "$vgdir/r.conf"
for how in "" --json "--html $vgdir/r.html"; do
	# shellcheck disable=SC2086 # $how is words
	vg "$ctl" -c "$vgdir/r.conf" report $how
	is "$rc" 0 "valgrind smillactl report $how"
done
rm -rf "$vgdir"

# The policy daemon, stdin mode, over the golden requests (all results,
# a timeout, libunbound threads) and a malformed request.
golden="$SMILLA_TOP/tests/policy/golden"
for name in results identity bad-longline; do
	sed -e "s/@GOOD_CERT@/$GOOD_CERT_SHA256_COLON/g" \
	    -e "s/@GOOD_SPKI@/$GOOD_SPKI_SHA256_COLON/g" "$golden/$name.in" > "$BED_DIR/vg-$name.in"
	set +e
	out=$(valgrind -q --error-exitcode=99 --leak-check=full \
		--errors-for-leak-kinds=definite "$SMILLA_PLAIN/smilla-policyd" \
		-c "$conf" -s < "$BED_DIR/vg-$name.in" 2>&1 >/dev/null)
	rc=$?
	set -e
	is "$rc" 0 "valgrind smilla-policyd -s < $name.in"
	[ "$rc" = 0 ] || printf '%s\n' "$out" | grep -v ' result=' | sed 's/^/#   /' | head -30
done

# The policy daemon on a socket: connections closed at max_connections
# and after idle_timeout (one inside a request), then SIGTERM.
vgp="$BED_DIR/vg-policyd"
mkdir -p "$vgp"
{ cat "$conf"
  echo "db_path = $vgp/smilla.db"
  echo "listen = unix:$vgp/policy.sock"
  echo "max_connections = 2"
  echo "idle_timeout = 1"; } > "$vgp/smilla.conf"
valgrind -q --error-exitcode=99 --leak-check=full \
	--errors-for-leak-kinds=definite "$SMILLA_PLAIN/smilla-policyd" \
	-c "$vgp/smilla.conf" 2> "$vgp/valgrind.log" &
vpid=$!
wait_socket "$vgp/policy.sock"
K=$GOOD_SPKI_SHA256_COLON
out=$("$SMILLA_TOP/tests/policy/client.pl" "$vgp/policy.sock" <<SCRIPT
open a
send a helo=good.smilla.test key=$K
recv a 10
open b
send b raw=request=smtpd_access_policy\nhelo_name=x\n
sleep 0.3
open c
send c helo=good.smilla.test key=$K
recv c 10
closed a 2
closed b 4
SCRIPT
)
like "$out" '^c [0-9]+ action=' "valgrind smilla-policyd: served at max_connections"
like "$out" '^a closed' "  the longest-idle connection closed"
like "$out" '^b closed' "  the half-sent request closed after idle_timeout"
kill "$vpid"
wait "$vpid" && rc=0 || rc=$?
is "$rc" 0 "valgrind smilla-policyd: no errors, no leaks"
[ "$rc" = 0 ] || grep -v ' result=' "$vgp/valgrind.log" | sed 's/^/#   /' | head -30

# The milter: libmilter's threads, the resolver thread, encryption,
# aborts and several messages per connection, driven by miltertest.
mt="$SMILLA_TOP/tests/milter"
vgm="$BED_DIR/vg-milter"
mkdir -p "$vgm"
echo "required.smilla.test" > "$vgm/require.tbl"
{ cat "$conf"
  echo "db_path = $vgm/smilla.db"
  echo "milter_socket = unix:$vgm/smilla.sock"
  echo "require_encryption_table = $vgm/require.tbl"; } > "$vgm/smilla.conf"
valgrind -q --error-exitcode=99 --leak-check=full \
	--errors-for-leak-kinds=definite "$SMILLA_PLAIN/smilla" -f \
	-c "$vgm/smilla.conf" 2> "$vgm/valgrind.log" &
vpid=$!
wait_socket "$vgm/smilla.sock"
# several.lua's real S/MIME message (the "already encrypted" check).
printf 'Content-Type: text/plain\r\n\r\nsecret\r\n' |
	openssl cms -encrypt -binary -aes256 -outform DER "$BED_DIR/certs/alice.pem" |
	base64 -w 64 | sed 's/$/\r/' > "$vgm/smime.b64"
export MT_SMIME="$vgm/smime.b64"
for s in sequence abort several; do
	MT_SOCK="unix:$vgm/smilla.sock" MT_DIR="$mt" \
		miltertest -s "$mt/$s.lua" > "$vgm/$s.out" 2>&1 && rc=0 || rc=$?
	is "$rc" 0 "valgrind smilla: $s.lua"
done
kill "$vpid"
wait "$vpid" && rc=0 || rc=$?
is "$rc" 0 "valgrind smilla: no errors, no leaks"
[ "$rc" = 0 ] || sed 's/^/#   /' "$vgm/valgrind.log" | head -30

done_testing
