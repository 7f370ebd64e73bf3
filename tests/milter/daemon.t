#!/bin/bash
# smilla as a daemon: configuration errors name file and line; without
# -f it detaches and writes pid_file; it gives the unix socket
# socket_mode and socket_owner, runs as "user", serves an inet socket,
# ignores SIGHUP, and SIGTERM stops it (pid file removed when "user"
# may).
set -eu
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/proc.sh"
require_bed

here=$(cd "$(dirname "$0")" && pwd)
work="$BED_DIR/milter-daemon"
rm -rf "$work"
mkdir -p "$work"
chmod 755 "$work"
smilla="$SMILLA_BUILD/smilla"
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null || true; }
trap cleanup EXIT
echo "required.smilla.test" > "$work/require.tbl"
conf() {
	{ cat "$BED_DIR/smilla.conf"
	  echo "db_path = $work/smilla.db"
	  echo "require_encryption_table = $work/require.tbl"
	  printf '%s\n' "$@"; } > "$work/smilla.conf"
}

# Bad configuration: a clear error, exit 78 (EX_CONFIG).
conf "milter_socket = unix:$work/s.sock" "smime_cipher = des"
run "$smilla" -f -c "$work/smilla.conf"
is "$rc" 78 "bad smime_cipher: exit 78"
like "$out" "smilla\\.conf:[0-9]+: .*smime_cipher" "  the message names file, line and key"
conf "milter_socket = tcp:25"
run "$smilla" -f -c "$work/smilla.conf"
is "$rc" 78 "bad milter_socket: exit 78"
like "$out" 'is not unix:/PATH or inet:PORT@HOST' "  says what is expected"
conf "milter_socket = unix:$work/s.sock" "sender_copy_cert = $work/missing.pem"
run "$smilla" -f -c "$work/smilla.conf"
is "$rc" 78 "missing sender_copy_cert: exit 78"
like "$out" 'sender_copy_cert: .*missing\.pem' "  names the file"
run "$smilla" -x
is "$rc" 64 "unknown option: exit 64 (usage)"

# Detached, with a pid file, socket mode and owner, as nobody.
chmod 777 "$work"
conf "milter_socket = unix:$work/smilla.sock" "pid_file = $work/smilla.pid" \
	"user = nobody" "socket_owner = nobody:nogroup" "socket_mode = 0660" \
	"log = stderr"
touch "$work/smilla.db"
chmod 666 "$work/smilla.db"
run "$smilla" -c "$work/smilla.conf"
is "$rc" 0 "without -f: the starting process returns 0"
wait_socket "$work/smilla.sock"
for i in $(seq 1 50); do [ -s "$work/smilla.pid" ] && break; sleep 0.1; done
pid=$(cat "$work/smilla.pid" 2>/dev/null || true)
check "pid_file written" [ -n "$pid" ]
check "  the process in it runs" alive "$pid"
is "$(stat -c %a "$work/smilla.sock")" 660 "socket_mode 0660"
is "$(stat -c %U:%G "$work/smilla.sock")" nobody:nogroup "socket_owner nobody:nogroup"
is "$(ps -o user= -p "$pid" | tr -d ' ')" nobody "runs as nobody"
check "detached: own session" [ "$(ps -o sid= -p "$pid" | tr -d ' ')" = "$pid" ]
MT_SOCK="unix:$work/smilla.sock" MT_DIR="$here" \
	miltertest -s "$here/sequence.lua" > "$work/seq.out" 2>&1 && rc=0 || rc=$?
is "$rc" 0 "serves messages as nobody (sequence.lua)"
kill -HUP "$pid"
sleep 0.5
check "SIGHUP: ignored, still running" alive "$pid"
kill "$pid"
check "SIGTERM: gone within 10 s" wait_gone "$pid" 100
check "  pid file removed ($work is writable for nobody)" [ ! -e "$work/smilla.pid" ]
pid=""

# An inet socket, in the foreground.
port=$(pick_port)
conf "milter_socket = inet:$port@127.0.0.1"
"$smilla" -f -c "$work/smilla.conf" 2> "$work/inet.log" &
pid=$!
for i in $(seq 1 50); do grep -q 'listening' "$work/inet.log" && break; sleep 0.1; done
MT_SOCK="inet:$port@127.0.0.1" MT_DIR="$here" \
	miltertest -s "$here/sequence.lua" > "$work/inet.out" 2>&1 && rc=0 || rc=$?
is "$rc" 0 "inet:$port@127.0.0.1 socket serves messages"
kill "$pid"
wait "$pid" 2>/dev/null && rc=0 || rc=$?
pid=""
is "$rc" 0 "  SIGTERM: clean exit"
done_testing
