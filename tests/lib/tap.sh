# tap.sh - TAP helpers for the shell tests, sourced by every tests/*/*.t.
#
#   run CMD...            run a command, keep stdout+stderr in $out, rc in $rc
#   ok COND-RC NAME       one test point from an exit status (0 = pass)
#   is GOT WANT NAME      equality
#   like TEXT PATTERN NAME  grep -E match
#   unlike TEXT PATTERN NAME  the pattern must not match
#   check NAME CMD...     one test point from a command's exit status
#   skip NAME             a point that is skipped (counted, never failed)
#   diag TEXT...          each argument's lines as "#" comments
#   done_testing          the plan; exit status 1 if anything failed
#   require_bed           load $BED_DIR/bed.env or fail (not under check.sh)
#   wait_socket PATH      wait up to 5 s for a unix socket

tap_n=0
tap_fail=0

ok() {
	tap_n=$((tap_n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $tap_n - $2"
	else
		echo "not ok $tap_n - $2"
		tap_fail=$((tap_fail + 1))
	fi
}

is() {
	if [ "$1" = "$2" ]; then
		ok 0 "$3"
	else
		ok 1 "$3"
		printf '#   got: %s\n#  want: %s\n' "$1" "$2"
	fi
}

like() {
	if printf '%s\n' "$1" | grep -Eq -- "$2"; then
		ok 0 "$3"
	else
		ok 1 "$3"
		printf '%s\n' "$1" | sed 's/^/#   /' | head -20
		printf '#  wanted /%s/\n' "$2"
	fi
}

skip() {
	tap_n=$((tap_n + 1))
	echo "ok $tap_n # SKIP $1"
}

diag() {
	printf '%s\n' "$@" | sed 's/^/#   /'
}

run() {
	set +e
	out=$("$@" 2>&1)
	rc=$?
	set -e
}

done_testing() {
	echo "1..$tap_n"
	[ "$tap_fail" -eq 0 ]
}

# Everything below needs the test bed started by tests/check.sh.
require_bed() {
	if [ -z "${BED_DIR:-}" ] || [ ! -f "$BED_DIR/bed.env" ]; then
		echo "not ok 1 - test bed running (run through make check)"
		echo "1..1"
		exit 1
	fi
	. "$BED_DIR/bed.env"
}

# unlike TEXT PATTERN NAME: the pattern must not match.
unlike() {
	if printf '%s\n' "$1" | grep -Eq -- "$2"; then
		ok 1 "$3"
		printf '#  unwanted /%s/ matched\n' "$2"
	else
		ok 0 "$3"
	fi
}

# check NAME CMD...: a test point from a command's exit status.
check() {
	name=$1
	shift
	if "$@"; then ok 0 "$name"; else ok 1 "$name"; fi
}

# wait_socket PATH: wait up to 5 s for a unix socket to appear.
wait_socket() {
	i=0
	while [ ! -S "$1" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
}
