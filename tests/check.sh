#!/bin/sh
# Run every test of "make check" under one prove(1) run: the unit tests
# (sanitizer build), the DNSSEC tier against a real test bed (NSD on
# loopback, libunbound validating), and valgrind runs of the plain build.
# The test bed is started once here and always torn down.
#
#   tests/check.sh [TEST...]	only these (test programs or .t files),
#				against the same bed and environment
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

# The bed must be traversable by every user (Postfix drops privileges).
BED_DIR=$(mktemp -d /tmp/smilla-bed.XXXXXX)
chmod 755 "$BED_DIR"
export BED_DIR
cleanup() {
	"$top/tests/bed/bed.sh" stop "$BED_DIR" || true
	rm -rf "$BED_DIR"
}
trap cleanup EXIT INT TERM

"$top/tests/bed/bed.sh" start "$BED_DIR"

export SMILLA_TOP="$top"
export SMILLA_BUILD="$top/build/asan"
export SMILLA_PLAIN="$top/build"
# Leak checking under ASan; libunbound's threads are joined on delete.
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

if [ $# -gt 0 ]; then
	prove --exec '' --timer -f "$@"
	exit
fi
units=$(ls build/asan/tests/unit/test_* | grep -v '\.[od]$')
prove --exec '' --timer -f $units tests/*/*.t
