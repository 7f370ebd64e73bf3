#!/bin/sh
# makefile.t - the Makefile rebuilds what a change touches, and a fuzz
# target is added in one place.  Dry runs (make -n) in the checkout
# against the plain tree that make check-build made; nothing is built
# or touched:
#
#  1. make -W H (H taken as changed) recompiles every object whose
#     source includes header H directly, and no object whose compiler
#     dependency file (.d) does not name H: the dependencies come from
#     the compiler (-MMD -MP), not from "every object needs every
#     header";
#  2. make fuzz builds one program per tests/fuzz/fuzz_*.c, into
#     $(B)/fuzz, or into FUZZ_B when that is given.
set -eu
top=${SMILLA_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$top/tests/lib/tap.sh"
cd "$top"
# Under "make check" the outer make's flags (-j, B=...) must not leak in.
unset MAKEFLAGS MFLAGS MAKELEVEL

B=build
tmp=$(mktemp -d "${TMPDIR:-/tmp}/smilla-make.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# The objects "make -n ARGS..." would compile (the -o of each -c).
compiled() {
	make -n "$@" 2>/dev/null | grep -- ' -c ' | sed -n 's/.* -o \([^ ]*\.o\) .*/\1/p' |
		sort -u
}

# ---- 1. header dependencies ----

if [ ! -f "$B/src/util.o" ]; then
	ok 1 "$B is built (make check-build)"
	done_testing
	exit
fi
stale=$(compiled B="$B" all unit fuzz)
if [ -n "$stale" ]; then
	# Only changed sources since the build: nothing below could tell.
	skip "$B is not up to date (make check-build first): $(echo $stale)"
	done_testing
	exit
fi

# Object files of a source file, in the plain tree and the fuzz tree.
objects_of() {
	case $1 in
	smilla/*) o="$B/milter/${1#smilla/}" ;;
	*) o="$B/$1" ;;
	esac
	for f in "${o%.c}.o" "$B/fuzz/obj/${1%.c}.o"; do
		[ -f "$f" ] && echo "$f"
	done
	return 0
}

for h in src/*.h policy/*.h smilla/*.h; do
	base=$(basename "$h")
	got=$(compiled B="$B" -W "$h" all unit fuzz)
	# Every direct includer is recompiled.
	missing=""
	for c in $(grep -l "^#include \"$base\"" src/*.c policy/*.c smilla/*.c \
			tests/unit/*.c tests/fuzz/*.c 2>/dev/null); do
		for o in $(objects_of "$c"); do
			printf '%s\n' "$got" | grep -Fxq -- "$o" || missing="$missing $o"
		done
	done
	is "$missing" "" "$h: every object whose source includes it is recompiled"
	# Nothing else: each recompiled object's .d names the header.
	extra=""
	for o in $got; do
		grep -q "[ :]$h\\( \\|\$\\)" "${o%.o}.d" 2>/dev/null || extra="$extra $o"
	done
	is "$extra" "" "$h: no object that does not include it is recompiled"
done

# A header the library's core does not need leaves the core alone.
got=$(compiled B="$B" -W src/pgp.h all unit fuzz)
check "src/pgp.h: src/rr.o is not recompiled" \
	sh -c "! printf '%s\n' \"\$1\" | grep -Fxq '$B/src/rr.o'" sh "$got"

# ---- 2. fuzz targets: one list, a build dir that follows ----

want=$(cd tests/fuzz && ls fuzz_*.c | sed 's/\.c$//' | sort)
links() { # DIR: the fuzz programs "make -n ARGS" links into DIR
	d=$1
	shift
	make -n "$@" 2>/dev/null | grep -v -- ' -c ' |
		grep -o -- "-o $d/fuzz_[a-z0-9_]*" | sed "s|^-o $d/||" | sort -u
}
got=$(links "$tmp/fz" B="$B" FUZZ_B="$tmp/fz" fuzz)
is "$(echo $got)" "$(echo $want)" \
	"make fuzz FUZZ_B=DIR: one program per tests/fuzz/fuzz_*.c, in DIR"
got=$(links "$tmp/b/fuzz" B="$tmp/b" fuzz)
is "$(echo $got)" "$(echo $want)" "make fuzz B=DIR: the programs go to DIR/fuzz"
check "make -n fuzz B=DIR writes nothing" [ ! -e "$tmp/b" ]

done_testing
