#!/bin/sh
# optkeys.t - code names smilla.conf's keys by the constants of
# src/config.h (enum sm_opt_key), so that a misspelt key is a compile
# error rather than an abort at run time:
#
#  1. no .c file but src/config.c passes a string literal as the key
#     of sm_config_str, sm_config_int, sm_config_bool or
#     sm_config_source (names people type go through sm_config_key or
#     sm_config_set);
#  2. each line of the option table is designated by the constant that
#     is its name in capitals ([SM_K_DNS_TIMEOUT] = { "dns_timeout",
#     ...), and every constant of the enum has its line;
#  3. the compiler refuses a misspelt constant and a string literal.
set -eu
top=${SMILLA_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$top/tests/lib/tap.sh"
cd "$top"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/smilla-optkeys.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# ---- 1. no string literal as a key ----

# "FILE:LINE: text" of every call whose second argument is a literal,
# calls over several lines included.
literals=$(find src policy smilla tests bench -name '*.c' ! -path src/config.c |
	sort | xargs perl -0ne '
	while (/\bsm_config_(?:str|int|bool|source)\s*\(\s*[^,;()]+,\s*"/g) {
		my $line = 1 + (substr($_, 0, $-[0]) =~ tr/\n//);
		print "$ARGV:$line\n";
	}')
is "$literals" "" "no string literal is a key of sm_config_str/int/bool/source"
# The check itself finds one.
printf 'x = sm_config_int(cfg,\n\t"dns_timeout");\n' >"$tmp/lit.c"
found=$(perl -0ne 'print "hit\n" if
	/\bsm_config_(?:str|int|bool|source)\s*\(\s*[^,;()]+,\s*"/' "$tmp/lit.c")
is "$found" "hit" "the check finds a literal key on a continuation line"

# ---- 2. the table's designators and the enum agree ----

# Constants of the enum, but for the markers and the action keys (those
# come from SM_RESULTS, designated by the same macro).
enum=$(sed -n '/^enum sm_opt_key {/,/^};/p' src/config.h |
	sed -n 's/^\tSM_K_\([A-Z0-9_]*\)[,= ].*/\1/p' |
	grep -v -e '^ACTION_FIRST$' -e '^COUNT$' | sort)
# Designated lines of the table: constant and name.
pairs=$(sed -n '/^const struct sm_option sm_options/,/^};/p' src/config.c |
	perl -0ne 'while (/\[SM_K_(\w+)\] =\s*\{ "(\w+)"/g) { print "$1 $2\n" }')
bad=$(printf '%s\n' "$pairs" | while read -r k name; do
	[ "$k" = "$(printf '%s' "$name" | tr a-z A-Z)" ] || echo "$k=$name"
done)
is "$bad" "" "each table line's constant is its name in capitals"
is "$(printf '%s\n' "$pairs" | cut -d' ' -f1 | sort)" "$enum" \
	"every constant of enum sm_opt_key has its table line, and no other"
like "$(sed -n '/^const struct sm_option sm_options/,/^};/p' src/config.c)" \
	'\[SM_K_ACTION_##code\] =' "the action_* lines come from SM_RESULTS"

# ---- 3. the compiler refuses what is not a key ----

cc=${CC:-cc}
compiles() { # KEY-EXPRESSION: does a call with it compile?
	cat >"$tmp/k.c" <<EOF
#include "config.h"
long f(const struct sm_config *cfg);
long f(const struct sm_config *cfg) { return sm_config_int(cfg, $1); }
EOF
	"$cc" -std=c11 -Wall -Wextra -Werror -Isrc -fsyntax-only "$tmp/k.c" \
		>"$tmp/cc.out" 2>&1
}
refused() { ! compiles "$1"; }
check "a key constant compiles" compiles SM_K_DNS_TIMEOUT
check "SM_K_ACTION(result) compiles" compiles 'SM_K_ACTION(SM_RESULT_FAIL)'
check "a misspelt constant does not" refused SM_K_DNS_TIMEOUTT
check "a string literal does not" refused '"dns_timeout"'

done_testing
