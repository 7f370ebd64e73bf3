# tests/lib/policyd.sh - one smilla-policyd of a test's own, on a unix
# socket in the test's directory.  Sourced after tap.sh and bed.env.
#
#   pd_setup NAME          work=$BED_DIR/NAME (fresh), conf=$work/smilla.conf
#   pd_conf [LINE...]      write $conf: the bed's smilla.conf with
#                          db_path $work/smilla.db and listen
#                          unix:$work/policy.sock, then the LINEs
#                          ("key = value"; later lines win)
#   pd_start               run it (log in $work/log, pid in $pid) and
#                          wait for its socket
#   pd_stop                SIGTERM, and wait for it to exit
#   pd_pass WHAT           one request from good.smilla.test with its
#                          key, on a connection of its own: a test
#                          point that the answer is pass

pid=

pd_setup() {
	work="$BED_DIR/$1"
	conf="$work/smilla.conf"
	rm -rf "$work"
	mkdir -p "$work"
	trap '[ -z "$pid" ] || kill $pid 2>/dev/null || true' EXIT
}

pd_conf() {
	{ cat "$BED_DIR/smilla.conf"
	  echo "db_path = $work/smilla.db"
	  echo "listen = unix:$work/policy.sock"
	  printf '%s\n' "$@"; } > "$conf"
}

pd_start() {
	rm -f "$work/policy.sock"
	"$SMILLA_BUILD/smilla-policyd" -c "$conf" 2> "$work/log" &
	pid=$!
	wait_socket "$work/policy.sock"
}

pd_stop() {
	kill -TERM "$pid"
	wait "$pid" || true
	pid=
}

pd_pass() {
	out=$("$(dirname "$0")/../policy/client.pl" "$work/policy.sock" <<SCRIPT
open p
send p helo=good.smilla.test key=$GOOD_SPKI_SHA256_COLON
recv p
SCRIPT
)
	like "$out" '^p [0-9]+ action=PREPEND DANE-Client-Auth: pass' "$1"
}
