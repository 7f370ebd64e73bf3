#!/bin/sh
# manpages.t - the documentation says what the code does.
#
#  1. every key of the option table (as "smillactl config" prints it) has
#     an ".It Cm KEY" entry in docs/smilla.conf.5, and every such entry
#     is a real key, and states the default and the range (numbers,
#     durations) or words (enums) the table has ("smillactl config
#     --table");
#  2. docs/smillactl.1, docs/smilla.conf.5, docs/smilla-policyd.8 and
#     docs/smilla.8 format without a warning (groff -mdoc -ww);
#  3. every command word and option in the usage of smillactl appears in
#     docs/smillactl.1, and so does every status, result and verdict
#     word the code prints (src/dns.c, src/dane.c);
#  4. contrib/smilla.conf loads, names every key, and its commented-out
#     values are the built-in defaults;
#  5. every option in the usage of smilla-policyd, every smilla.conf key
#     the policy daemon reads (the keys named in policy/*.c) and every
#     result word it prints (smillactl config --words) appear in
#     docs/smilla-policyd.8;
#  6. every key the option table says the milter reads (and
#     any key named in smilla/*.c), every per-recipient state, action
#     (smillactl config --words) and reason word of its log line and
#     status header, and, once it is
#     built, every option in the usage of smilla appear in docs/smilla.8.
#
# Runs from anywhere; uses $SMILLA_BUILD/smillactl,
# $SMILLA_BUILD/smilla-policyd and $SMILLA_BUILD/smilla when SMILLA_BUILD
# is set, else those in ./build.  Output is TAP.
set -u

cd "$(dirname "$0")/../.." || exit 1

ctl=${SMILLA_BUILD:-./build}/smillactl
pd=${SMILLA_BUILD:-./build}/smilla-policyd
mil=${SMILLA_BUILD:-./build}/smilla
conf5=docs/smilla.conf.5
ctl1=docs/smillactl.1
pol8=docs/smilla-policyd.8
mil8=docs/smilla.8
example=contrib/smilla.conf

# ok, diag, skip, done_testing
. tests/lib/tap.sh

finish() {
	done_testing || exit 1
	exit 0
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/manpages.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM

# Words on mdoc macro lines that follow macro M (e.g. Cm, Fl), up to the
# next macro: "Cm lookup tlsa Ar host" gives "lookup" and "tlsa".
macro_words() {
	awk -v m="$1" '
	/^\./ {
		on = 0
		for (i = 1; i <= NF; i++) {
			t = $i
			sub(/^\./, "", t)
			if (t == m) { on = 1; continue }
			if (t ~ /^[A-Z][a-z]$/) { on = 0; continue }
			if (on) print t
		}
	}' "$2" | sort -u
}

# word_in LIST WORD: is WORD one line of LIST?
word_in() {
	printf '%s\n' "$1" | grep -Fxq -- "$2"
}

if [ ! -x "$ctl" ]; then
	ok 1 "smillactl is built ($ctl)"
	diag "run make first, or set SMILLA_BUILD"
	finish
fi
for f in "$conf5" "$ctl1" "$pol8" "$mil8" "$example"; do
	if [ ! -f "$f" ]; then
		ok 1 "$f exists"
		finish
	fi
done

# ---- 1. option table <-> smilla.conf.5 ----

# /dev/null: the built-in table, whatever /etc/smilla/smilla.conf holds.
keys=$("$ctl" -c /dev/null config | sed -n 's/^\([A-Za-z0-9_]*\) = .*/\1/p')
[ -n "$keys" ]
ok $? "smillactl config prints the option table"

doc_keys=$(sed -n 's/^\.It Cm \([^ ]*\).*/\1/p' "$conf5" | sort -u)
for k in $keys; do
	word_in "$doc_keys" "$k"
	ok $? "$conf5 documents $k"
done
for k in $doc_keys; do
	word_in "$keys" "$k"
	ok $? "$conf5 entry $k is a key of the option table"
done

# Defaults and ranges: what smilla.conf.5 states for each key against
# the table itself ("smillactl config --table": key, programs, type,
# default, range, doc; tab-separated).  A key's entry runs from its
# ".It Cm KEY No =" line to the next such line.  Its "Default:" text
# (the rest of that line, else the next line without its macro) must
# begin with the default as written in the table ("empty" when there is
# none); a number or duration must state "from MIN [unit] to MAX [unit]"
# equal to the table's bounds (units second ... week); an enum entry
# must name every one of its words with .Cm.
"$ctl" -c /dev/null config --table >"$tmp/table"
[ -s "$tmp/table" ] && [ "$(wc -l <"$tmp/table")" -eq "$(printf '%s\n' $keys | wc -l)" ]
ok $? "smillactl config --table prints every key"

awk '
function unit(w) {
	sub(/[.,;:)]+$/, "", w)
	if (w ~ /^seconds?$/) return 1
	if (w ~ /^minutes?$/) return 60
	if (w ~ /^hours?$/) return 3600
	if (w ~ /^days?$/) return 86400
	if (w ~ /^weeks?$/) return 604800
	return 0
}
function num(w) {
	sub(/[.,;:)]+$/, "", w)
	return w ~ /^[0-9]+$/ ? w : ""
}
function flush(   n, w, i, j, lo, hi, u1, u2) {
	if (key == "") return
	range = ""
	n = split(text, w, " ")
	for (i = 1; i + 2 <= n && range == ""; i++) {
		if (w[i] != "from" || (lo = num(w[i + 1])) == "") continue
		j = i + 2
		u1 = unit(w[j])
		if (u1) j++
		if (w[j] != "to" || (hi = num(w[j + 1])) == "") continue
		u2 = unit(w[j + 2])
		if (!u2) u2 = 1
		if (!u1) u1 = u2
		range = (lo * u1) "-" (hi * u2)
	}
	printf "%s\t%s\t%s\t%s\n", key, def, range, words
	key = ""
}
/^\.It Cm [a-z_0-9]+ No =/ {
	flush()
	key = $3; def = ""; text = ""; words = " "; want_def = 0
	next
}
/^\.S[hs] / { flush(); next }
key == "" { next }
want_def { def = $0; sub(/^\.[A-Z][a-z] /, "", def); want_def = 0 }
/^Default:/ {
	def = $0
	sub(/^Default: */, "", def)
	if (def == "") want_def = 1
}
/^\.Cm / {
	for (i = 2; i <= NF && $i !~ /^[A-Z][a-z]$/; i++) words = words $i " "
}
{ line = $0; sub(/^\.[A-Z][a-z] /, "", line); text = text " " line }
END { flush() }
' "$conf5" >"$tmp/stated"

# Empty fields survive read only with a separator that is not white space.
us=$(printf '\037')
tr '\t' '\037' <"$tmp/table" >"$tmp/table.us"
while IFS="$us" read -r k progs type def range doc; do
	stated=$(awk -F '\t' -v k="$k" '$1 == k' "$tmp/stated")
	sdef=$(printf '%s\n' "$stated" | cut -f2)
	srange=$(printf '%s\n' "$stated" | cut -f3)
	swords=$(printf '%s\n' "$stated" | cut -f4)
	if [ -z "$def" ]; then
		case $sdef in empty*) r=0 ;; *) r=1 ;; esac
	else
		case $sdef in
		"$def" | "$def"[" ,.;:("]*) r=0 ;;
		*) r=1 ;;
		esac
	fi
	ok $r "$conf5: default of $k is ${def:-empty}"
	[ $r -eq 0 ] || diag "the page says: Default: $sdef"
	case $type in
	int | time)
		is "$srange" "$range" "$conf5: range of $k is $range" ;;
	enum)
		r=0
		for w in $(printf '%s\n' "$range" | tr '|' ' '); do
			case $swords in *" $w "*) ;; *) r=1 ;; esac
		done
		ok $r "$conf5: $k lists the words $range"
		[ $r -eq 0 ] || diag "the entry names: $swords" ;;
	esac
done <"$tmp/table.us"

# ---- 2. the pages format cleanly ----

if command -v groff >/dev/null 2>&1; then
	for f in "$ctl1" "$conf5" "$pol8" "$mil8"; do
		out=$(groff -mdoc -ww -z -Tutf8 "$f" 2>&1)
		[ -z "$out" ]
		ok $? "$f formats without warnings"
		[ -z "$out" ] || diag "$out"
	done
else
	for f in "$ctl1" "$conf5" "$pol8" "$mil8"; do
		ok 1 "$f formats without warnings"
		diag "groff not found (Debian: apt-get install groff-base)"
	done
fi

# ---- 3. smillactl usage and words <-> smillactl.1 ----

usage=$("$ctl" 2>&1 >/dev/null)
rc=$?
[ "$rc" -eq 64 ]
ok $? "smillactl without arguments exits 64 (got $rc)"

tokens=$(printf '%s\n' "$usage" | grep '^  ' | tr '[]|' '   ' |
	tr -s ' \t' '\n\n' | sort -u)
commands=$(printf '%s\n' "$tokens" | grep -E '^[a-z][a-z-]*$')
options=$(printf '%s\n' "$tokens" | grep -E '^-')
[ -n "$commands" ] && [ -n "$options" ]
ok $? "usage lists command words and options"

doc_cm=$(macro_words Cm "$ctl1")
for w in $commands; do
	word_in "$doc_cm" "$w"
	ok $? "$ctl1 documents command word $w"
done

doc_fl=$(macro_words Fl "$ctl1")
for o in $options; do
	word_in "$doc_fl" "${o#-}"
	ok $? "$ctl1 documents option $o"
done

# The words smillactl prints: the bodies of the functions naming them.
words_of() {
	sed -n "/^$1(/,/^}/p" "$2" | grep -o '"[a-z]*"' | tr -d '"'
}
for fn in sm_dns_status:src/dns.c sm_dane_result_word:src/dane.c \
	  sm_dane_verdict_word:src/dane.c; do
	list=$(words_of "${fn%%:*}" "${fn#*:}")
	[ -n "$list" ]
	ok $? "${fn#*:}: ${fn%%:*} names its words"
	for w in $list; do
		word_in "$doc_cm" "$w"
		ok $? "$ctl1 documents ${fn%%:*} word $w"
	done
done

# ---- 4. contrib/smilla.conf ----

out=$("$ctl" -c "$example" config 2>&1)
rc=$?
[ "$rc" -eq 0 ]
ok $? "$example loads (smillactl -c $example config)"
[ "$rc" -eq 0 ] || diag "$out"

for k in $keys; do
	grep -Eq "^#?$k = ?" "$example"
	ok $? "$example has $k"
done

# Uncomment every "#key = value" line: the result must load and equal
# the built-in defaults.
sed 's/^#\([A-Za-z0-9_]* =\)/\1/' "$example" >"$tmp/uncommented.conf"
"$ctl" -c /dev/null config >"$tmp/defaults" 2>&1
"$ctl" -c "$tmp/uncommented.conf" config >"$tmp/example" 2>&1
out=$(diff "$tmp/defaults" "$tmp/example")
[ -z "$out" ]
ok $? "$example shows the built-in defaults"
[ -z "$out" ] || diag "$out"

# ---- 5. smilla-policyd <-> smilla-policyd.8 ----

# A function, so that an unbuilt daemon does not end the run before 6.
policyd_doc() {

# -h is not an option of the daemon: it prints the usage, serves nothing.
usage=$("$pd" -h 2>&1 >/dev/null)
rc=$?
[ "$rc" -eq 64 ]
ok $? "smilla-policyd -h exits 64 (got $rc)"

options=$(printf '%s\n' "$usage" | grep -o '\[-[a-zA-Z]' | tr -d '[-' | sort -u)
[ -n "$options" ]
ok $? "smilla-policyd usage lists options"
doc_fl=$(macro_words Fl "$pol8")
for o in $options; do
	word_in "$doc_fl" "$o"
	ok $? "$pol8 documents option -$o"
done

# Keys: quoted key names in policy/*.c, and for a "prefix_%s" format
# every key starting with that prefix (action_%s: action_pass, ...).
doc_cm=$(macro_words Cm "$pol8")
literals=$(cat policy/*.c | grep -o '"[a-z_]*"' | tr -d '"' | sort -u)
prefixes=$(cat policy/*.c | grep -o '"[a-z_]*%s"' | sed 's/^"//; s/%s"$//' |
	sort -u)
used=""
for k in $keys; do
	if word_in "$literals" "$k"; then
		used="$used $k"
		continue
	fi
	for p in $prefixes; do
		case $k in "$p"*) used="$used $k"; break ;; esac
	done
done
[ -n "$used" ]
ok $? "policy/*.c names keys of the option table"
for k in $used; do
	word_in "$doc_cm" "$k"
	ok $? "$pol8 documents key $k"
done

# Result words: as the program has them (src/words.h, listed by the
# hidden "smillactl config --words"), not a copy of them here.
results=$("$ctl" -c /dev/null config --words | sed -n 's/^result //p')
[ -n "$results" ]
ok $? "smillactl config --words lists the result words"
for w in $results; do
	word_in "$doc_cm" "$w"
	ok $? "$pol8 documents result word $w"
done
}

if [ -x "$pd" ]; then
	policyd_doc
else
	ok 1 "smilla-policyd is built ($pd)"
fi

# ---- 6. smilla (milter) <-> smilla.8 ----

doc_cm=$(macro_words Cm "$mil8")

# The keys the milter reads: those whose programs in the option table
# ("smillactl config --table") include smilla, and any other key its
# sources name.
mkeys=$(awk -F '\t' '("," $2 ",") ~ /,smilla,/ { print $1 }' "$tmp/table")
[ -n "$mkeys" ]
ok $? "the option table names keys the milter reads"
named=""
if ls smilla/*.c >/dev/null 2>&1; then
	literals=$(cat smilla/*.c | grep -o '"[a-z_]*"' | tr -d '"' | sort -u)
	for k in $keys; do
		word_in "$literals" "$k" && named="$named $k"
	done
fi
for k in $(printf '%s\n' $mkeys $named | sort -u); do
	word_in "$keys" "$k"
	ok $? "$k (read by the milter) is a key of the option table"
	word_in "$doc_cm" "$k"
	ok $? "$mil8 documents key $k"
done

# Words of the log line and the status header: those of the milter
# contract, the key state and action words as the program has them
# (src/words.h, "smillactl config --words"), and the reason words of
# smilla/session.c.
words="secure insecure none unusable bogus temperror skipped
encrypted plaintext untouched rejected tempfail no-key disabled too-big
pass"
sets=$("$ctl" -c /dev/null config --words |
	sed -n 's/^key-state //p; s/^action //p')
[ -n "$sets" ]
ok $? "smillactl config --words lists the key state and action words"
words="$words $sets"
if [ -f smilla/recipient.c ] && [ -f smilla/session.c ]; then
	words="$words $(grep -o 'reason = "[a-z-]*"' smilla/session.c |
		grep -o '"[a-z-]*"' | tr -d '"')"
	words="$words $(grep -o 'plaintext(m, o, [^;]*' smilla/session.c |
		grep -o '"[a-z-]*"' | tr -d '"')"
fi
for w in $(printf '%s\n' $words | sort -u); do
	word_in "$doc_cm" "$w"
	ok $? "$mil8 documents word $w"
done

# Options of the usage, once the milter is built.
if [ -x "$mil" ]; then
	usage=$("$mil" -h 2>&1 >/dev/null)
	options=$(printf '%s\n' "$usage" | grep -o '\[-[a-zA-Z]' | tr -d '[-' |
		sort -u)
	[ -n "$options" ]
	ok $? "smilla usage lists options"
	[ -n "$options" ] || diag "smilla -h printed: $usage"
	doc_fl=$(macro_words Fl "$mil8")
	for o in $options; do
		word_in "$doc_fl" "$o"
		ok $? "$mil8 documents option -$o"
	done
else
	skip "smilla is not built ($mil)"
fi

finish
