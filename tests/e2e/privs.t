#!/bin/bash
# privs.t - privileges of both daemons (issue 15), started as root:
#  1. with "user" empty (or root) and allow_root = no (the default) they
#     refuse to start: exit 78, one line naming the file and what to
#     set, and nothing left behind (no socket, pid file, database or
#     split key);
#  2. with allow_root = yes they run as root and say so once, at level
#     warning;
#  3. with user = nobody they run as nobody for good (every uid and gid,
#     one group, no capabilities), and what they make has the modes
#     smilla.conf(5) "Files and their modes" lists, though they were
#     started with umask 0: sockets (socket_mode, socket_owner), the
#     databases and their -wal/-shm (db_mode, owned by nobody), the
#     milter's pid file (0644, a new file: a link at its name is not
#     written through) and split key (0600), and a spill file of a
#     message above max_memory_body (0600, nobody's, unlinked), caught
#     while it exists; nothing is world-writable.
# The bed's smilla.conf says allow_root = yes for the other tests: the
# configurations here leave it out.
set -eu
export LC_ALL=C
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/proc.sh"
require_bed

if [ "$(id -u)" != 0 ]; then
	skip "privileges: the daemons must be started as root"
	done_testing
	exit 0
fi
here=$(cd "$(dirname "$0")" && pwd)
mdir=$(cd "$here/../milter" && pwd)
work="$BED_DIR/privs"
rm -rf "$work"
mkdir -p "$work"
chmod 755 "$work"
pd="$SMILLA_BUILD/smilla-policyd"
mil="$SMILLA_BUILD/smilla"
pids=""
cleanup() {
	[ -n "$pids" ] && kill $pids 2>/dev/null || true
	touch "$work/go"
}
trap cleanup EXIT

# conf NAME LINE...: $work/NAME.conf, the bed's settings without
# allow_root and db_path, then the LINEs.
conf() {
	local n=$1
	shift
	{ grep -v '^allow_root\|^db_path' "$BED_DIR/smilla.conf"
	  printf '%s\n' "$@"; } > "$work/$n.conf"
}

# refused WHAT CMD...: exit 78 and one line on stderr, naming the
# configuration file (the last argument) and what to set.
refused() {
	local what=$1 name
	shift
	name=${1##*/}
	run "$@"
	is "$rc" 78 "$what: refuses to start as root (exit 78)"
	is "$(printf '%s\n' "$out" | wc -l)" 1 "  one line"
	like "$out" "^$name: ${*: -1}: started as root and .*: set user = NAME \\(an unprivileged user\\) or, to run as root, allow_root = yes\$" \
		"  naming the file and what to set"
}

# ---- 1. refused ----
mkdir "$work/r"
conf rpd "listen = unix:$work/r/pd.sock" "db_path = $work/r/pd.db"
refused "smilla-policyd, user empty" "$pd" -c "$work/rpd.conf"
refused "smilla-policyd -s, user empty" "$pd" -s -c "$work/rpd.conf"
conf rroot "listen = unix:$work/r/pd.sock" "db_path = $work/r/pd.db" "user = root"
refused "smilla-policyd, user = root" "$pd" -c "$work/rroot.conf"
# Split mode: the milter would make split_key_file at start.
conf rmil "milter_socket = unix:$work/r/mil.sock" "db_path = $work/r/mil.db" \
	"pid_file = $work/r/mil.pid" "mixed_recipients = split" \
	"reinject_service = inet:127.0.0.1:$(pick_port)" \
	"split_key_file = $work/r/split.key"
refused "smilla, detaching, user empty" "$mil" -c "$work/rmil.conf"
refused "smilla -f, user empty" "$mil" -f -c "$work/rmil.conf"
conf rnouser "milter_socket = unix:$work/r/mil.sock" "db_path = $work/r/mil.db" \
	"pid_file = $work/r/mil.pid" "user = no-such-user"
run "$mil" -c "$work/rnouser.conf"
is "$rc" 67 "smilla, an unknown user: exit 67"
like "$out" "^smilla: $work/rnouser.conf: user: no user \"no-such-user\"\$" "  naming the file and the user"
is "$(ls -A "$work/r")" "" "nothing left behind: no socket, pid file, database or split key"

# ---- 2. allow_root = yes ----
mkdir "$work/a"
conf apd "allow_root = yes" "listen = unix:$work/a/pd.sock" "db_path = $work/a/pd.db"
"$pd" -c "$work/apd.conf" 2> "$work/apd.log" &
apid=$!
conf amil "allow_root = yes" "milter_socket = unix:$work/a/mil.sock" "db_path = $work/a/mil.db"
"$mil" -f -c "$work/amil.conf" 2> "$work/amil.log" &
amid=$!
pids="$apid $amid"
# "NAME PID TAG" a line: TAG names its files.
while read -r name p tag; do
	# The warning comes once the sockets are open: wait for it.
	for _ in $(seq 1 50); do
		grep -q 'running as' "$work/a$tag.log" && break
		sleep 0.1
	done
	is "$(ps -o uid= -p "$p" | tr -d ' ')" 0 "allow_root = yes: $name runs as root"
	is "$(grep -c 'running as root' "$work/a$tag.log")" 1 "  and says so once"
	like "$(grep 'running as root' "$work/a$tag.log")" "^$name: warning: running as root \\(allow_root = yes\\)\$" \
		"  at level warning"
done <<EOF
smilla-policyd $apid pd
smilla $amid mil
EOF
kill -TERM $apid $amid
wait $apid $amid || true
pids=""
rm -rf "$work/a"	# its sockets have the default mode, 0666

# ---- 3. user = nobody ----
# run/: sockets, pid file and split key (made as root); var/: the
# databases (made as nobody); tmp/: the milter's TMPDIR.
mkdir -p "$work/run" "$work/var" "$work/tmp"
chown nobody:nogroup "$work/var" "$work/tmp"
chmod 700 "$work/var" "$work/tmp"
mine="user = nobody
socket_owner = nobody:nogroup
socket_mode = 0660"
conf upd "$mine" "listen = unix:$work/run/pd.sock" "db_path = $work/var/pd.db"
conf umil "$mine" "milter_socket = unix:$work/run/mil.sock" \
	"db_path = $work/var/mil.db" "pid_file = $work/run/mil.pid" \
	"max_memory_body = 4096" "mixed_recipients = split" \
	"reinject_service = inet:127.0.0.1:$(pick_port)" \
	"split_key_file = $work/run/split.key"
# Started with umask 0: the modes must not come from it.
(umask 0; exec "$pd" -c "$work/upd.conf" 2> "$work/upd.log") &
ppid=$!
pids=$ppid
# Detached (no -f), so that it writes its pid file; at its name, a
# hard link to a file of root's, which must not be written through.
echo "root's" > "$work/run/victim"
chmod 600 "$work/run/victim"
ln "$work/run/victim" "$work/run/mil.pid"
(umask 0; TMPDIR="$work/tmp" exec "$mil" -c "$work/umil.conf" 2> "$work/umil.log")
# (CI once saw neither within 5 s: up to 15 s each, and what it said.)
for _ in $(seq 1 150); do [ -S "$work/run/mil.sock" ] && break; sleep 0.1; done
for _ in $(seq 1 150); do [ -s "$work/run/mil.pid" ] && break; sleep 0.1; done
mpid=$(cat "$work/run/mil.pid" 2>/dev/null || true)
check "smilla detached and wrote its pid file" alive "${mpid:-0}"
alive "${mpid:-0}" ||
	diag "run/: $(ls -l "$work/run" 2>&1); its stderr: $(cat "$work/umil.log")"
pids="$ppid $mpid"
wait_socket "$work/run/pd.sock"

# A decision, so that the policy daemon writes its database.
out=$("$here/../policy/client.pl" "$work/run/pd.sock" <<SCRIPT
open a
send a helo=good.smilla.test key=$GOOD_SPKI_SHA256_COLON
recv a
SCRIPT
)
like "$out" '^a [0-9]+ action=PREPEND DANE-Client-Auth: pass' "smilla-policyd as nobody answers"

# The message above max_memory_body, held before its end.
MT_SOCK="unix:$work/run/mil.sock" MT_DIR="$mdir" MT_GO="$work/go" \
	miltertest -s "$mdir/spill.lua" > "$work/spill.out" 2>&1 &
mtpid=$!
spill=""
for _ in $(seq 1 100); do
	spill=$(find "/proc/$mpid/fd" -lname "$work/tmp/smilla.* (deleted)" 2>/dev/null | head -n1)
	[ -n "$spill" ] && break
	sleep 0.1
done
check "a spill file while the big message is received (/proc/$mpid/fd)" [ -n "$spill" ]
if [ -n "$spill" ]; then
	is "$(stat -L -c '%a %U' "$spill")" "600 nobody" "  mode 0600, owned by nobody"
	check "  it holds more than max_memory_body" [ "$(stat -L -c %s "$spill")" -gt 4096 ]
else
	skip "  spill file mode: no spill file seen"
	skip "  spill file size: no spill file seen"
fi
is "$(ls -A "$work/tmp")" "" "  unlinked: TMPDIR lists nothing"
touch "$work/go"
wait $mtpid && rc=0 || rc=$?
is "$rc" 0 "spill.lua: the big message passes (plaintext, no key)"
[ "$rc" = 0 ] || sed 's/^/# /' "$work/spill.out" | tail -n 5

nobody_uid=$(id -u nobody)
nobody_gid=$(id -g nobody)
while read -r name p tag; do
	is "$(ps -o user= -p "$p" | tr -d ' ')" nobody "$name runs as nobody (ps)"
	st=$(cat "/proc/$p/status")
	like "$st" "^Uid:\\s+$nobody_uid\\s+$nobody_uid\\s+$nobody_uid\\s+$nobody_uid\$" \
		"  real, effective, saved and fs uid: nobody's"
	like "$st" "^Gid:\\s+$nobody_gid\\s+$nobody_gid\\s+$nobody_gid\\s+$nobody_gid\$" \
		"  every gid: its group's"
	like "$st" "^Groups:\\s+$nobody_gid\\s*\$" "  no other group"
	like "$st" '^CapEff:\s+0+$' "  no capability left"
	is "$(stat -c '%a %U:%G' "$work/run/$tag.sock")" "660 nobody:nogroup" \
		"  its socket: socket_mode 0660, socket_owner nobody:nogroup"
	for f in "$tag.db" "$tag.db-wal" "$tag.db-shm"; do
		is "$(stat -c '%a %U' "$work/var/$f" 2>&1)" "640 nobody" "  $f: db_mode 0640, made by nobody"
	done
done <<EOF
smilla-policyd $ppid pd
smilla $mpid mil
EOF
is "$(stat -c '%a %U %h' "$work/run/mil.pid")" "644 root 1" "smilla's pid file: 0644, written as root, a file of its own"
is "$(stat -c '%a' "$work/run/victim"):$(cat "$work/run/victim")" "600:root's" \
	"  the file it was a link to: untouched"
is "$(stat -c '%a %U %s' "$work/run/split.key")" "600 root 32" "smilla's split key: 0600, made as root"
is "$(find "$work/run" "$work/var" "$work/tmp" -perm -0002 ! -type l)" "" \
	"nothing they made is world-writable"

kill -TERM $ppid $mpid
wait $ppid && rc=0 || rc=$?
is "$rc" 0 "smilla-policyd exits 0 on SIGTERM"
check "smilla gone within 10 s of SIGTERM" wait_gone "$mpid" 100
pids=""
# (The detached milter's stderr is /dev/null.)
unlike "$(cat "$work/upd.log")" 'AddressSanitizer|LeakSanitizer|runtime error:' \
	"no sanitizer report in smilla-policyd's log"
trap - EXIT
done_testing
