#!/bin/sh
# readme.t - README.md's layout table names what the tree holds: every
# module of src/, policy/ and smilla/ (each NAME.c as `NAME`), every
# folder of tests/ and every top-level folder with sources (as `PATH/`),
# and nothing that is gone; the images it shows are there.
set -u
top=${SMILLA_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$top/tests/lib/tap.sh"
cd "$top" || exit 1

table=$(sed -n '/^## Layout/,/^## /p' README.md | grep '^|')
[ -n "$table" ]
ok $? "README.md has a layout table"

# The words in backquotes of the table.
quoted=$(printf '%s\n' "$table" | grep -o '`[^`]*`' | tr -d '`' | sort -u)
has() { printf '%s\n' "$quoted" | grep -Fxq -- "$1"; }

for d in src policy smilla; do
	has "$d/"
	ok $? "the table names $d/"
	for c in "$d"/*.c; do
		m=$(basename "$c" .c)
		case $c in src/smillactl.c) has smillactl.c || has smillactl; ok $? "the table names $c"; continue ;; esac
		has "$m"
		ok $? "the table names module $m ($c)"
	done
done
for d in tests/*/ bench/ docs/ contrib/ scripts/; do
	has "$d"
	ok $? "the table names $d"
done
# Folders it names exist.
for p in $(printf '%s\n' "$quoted" | grep '/$'); do
	[ -d "$p" ]
	ok $? "$p (in the table) exists"
done
# Images it shows are in the tree, and are PNG.
for img in $(grep -o '!\[[^]]*\]([^)]*)' README.md | sed 's/.*(\(.*\))/\1/'); do
	[ "$(od -An -c -N4 "$img" 2>/dev/null | tr -d ' ')" = '211PNG' ]
	ok $? "README's image $img is a PNG in the tree"
done
done_testing
