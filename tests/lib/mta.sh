# tests/lib/mta.sh - the mail system of the milter's end-to-end tests:
# smilla milters of the test's own, and a private Postfix
# (tests/e2e/postfix.sh) that calls them, or that delivers what a private
# Sendmail (tests/lib/sendmail.sh) passed through them.  Sourced after
# tests/lib/tap.sh (and bed.env), with these set by the caller:
#   work     the test's directory, mode 755 (NAME.conf, .sock, .log,
#            .db, tmp/ in it are used)
#   mil      the smilla binary
#   MILTERS  the milters' names ("a b c"), and `declare -A mpid=()`,
#            their pids by name
#   PF_SH    tests/e2e/postfix.sh, and pf the instance directory
#
#   milter_conf NAME [LINE...]  write NAME.conf
#   milters_start               run them; 1 when one is not up
#   postfix_start [sink]        start Postfix with the milters (or none);
#                               1 when it is not up
#   milter_stop NAME / milter_start NAME   one of them down (a test
#                               point: it exits 0) and up again
#   milters_kill                SIGTERM to those still running (cleanup)
#   mta_cleanup                 Postfix stopped and milters_kill (an
#                               EXIT trap)
#   mta_end TOTAL               the last checks, everything stopped:
#                               postfix_end TOTAL, then milters_end
#   nothing_left                no process names $work

# milter_conf NAME [LINE...]: $work/NAME.conf, the bed's smilla.conf
# with NAME's own db, socket and pid file, authserv_id mx.smilla.test,
# require_encryption_table $work/NAME-require.tbl, then the LINEs
# ("key = value").
# mta_setup NAME [SUBDIR...]: the end-to-end test's globals (t_start,
# here, PF_SH, mil, certs, keys) and a fresh traversable work directory
# $BED_DIR/NAME with msg/, out/ and the SUBDIRs in it.
mta_setup() {
	local name=$1 d
	shift
	# shellcheck disable=SC2034 # read by the tests and the helpers
	t_start=$EPOCHREALTIME
	here=$(cd "$(dirname "$0")" && pwd)
	PF_SH="$here/postfix.sh"
	mil="$SMILLA_BUILD/smilla"
	certs="$BED_DIR/certs"
	keys="$BED_DIR/keys"
	work="$BED_DIR/$name"
	rm -rf "$work"
	mkdir -p "$work/msg" "$work/out"
	for d in "$@"; do
		mkdir -p "$work/$d"
	done
	chmod 755 "$work"
}

milter_conf() {
	local n=$1
	shift
	{
		grep -v '^db_path' "$BED_DIR/smilla.conf"
		echo "db_path = $work/$n.db"
		echo "milter_socket = unix:$work/$n.sock"
		echo "pid_file = $work/$n.pid"
		echo "authserv_id = mx.smilla.test"
		echo "require_encryption_table = $work/$n-require.tbl"
		printf '%s\n' "$@"
	} >"$work/$n.conf"
}

# milters_start: each of $MILTERS in the foreground (-f), its log
# $work/NAME.log, TMPDIR $work/tmp (where bodies above max_memory_body
# spool; mta_end checks it is empty); a test point for each socket,
# the log shown of one that is not up.
milters_start() {
	local m up=0
	mkdir -p "$work/tmp"
	for m in $MILTERS; do
		TMPDIR="$work/tmp" "$mil" -f -c "$work/$m.conf" 2>"$work/$m.log" &
		mpid[$m]=$!
	done
	for m in $MILTERS; do
		wait_socket "$work/$m.sock"
		check "milter $m listening on $work/$m.sock" [ -S "$work/$m.sock" ]
		[ -S "$work/$m.sock" ] || { up=1; sed 's/^/#   /' "$work/$m.log" | head -n 20; }
	done
	return $up
}

# postfix_start [sink]: the instance in $pf, the policy service
# PF_POLICY (postfix.sh's POLICY; default none), the first of $MILTERS
# for every client and the Nth for clients from 127.0.0.N
# (smtpd_milter_maps; swaks --local-interface), messages up to 100 MB;
# PF_EXTRA_DOMAINS as the caller exports it, and the caller's
# PF_MAIN_EXTRA after ours (e.g. non_smtpd_milters).  With "sink", no
# milter: the Postfix that delivers what another MTA passed through them
# (tests/lib/sendmail.sh).  A test point, postfix.env sourced; what
# postfix.sh said when it fails.
postfix_start() {
	local m i=1 maps="" milters what="with the milters"
	for m in $MILTERS; do
		[ $i -gt 1 ] && maps="$maps${maps:+, }127.0.0.$i=unix:$work/$m.sock"
		i=$((i + 1))
	done
	milters="smtpd_milters = unix:$work/${MILTERS%% *}.sock${maps:+
smtpd_milter_maps = inline:{ $maps \}}
milter_default_action = tempfail
milter_protocol = 6"
	if [ "${1:-}" = sink ]; then
		milters=""
		what="delivering into its Maildir (no milter)"
	fi
	PF_MAIN_EXTRA="$milters
message_size_limit = 100000000
virtual_mailbox_limit = 0
${PF_MAIN_EXTRA:-}" "$PF_SH" start "$pf" "${PF_POLICY:-none}" >"$work/pf-start.log" 2>&1 && rc=0 || rc=$?
	is "$rc" 0 "Postfix instance $what"
	if [ "$rc" -ne 0 ]; then
		sed 's/^/# /' "$work/pf-start.log"
		return 1
	fi
	. "$pf/postfix.env"
}

# milter_stop NAME: SIGTERM, a test point that it exits 0.  Its socket
# file stays (libmilter leaves it): a client is refused, as by a milter
# that died.
milter_stop() {
	local rc
	kill -TERM "${mpid[$1]}"
	wait "${mpid[$1]}" && rc=0 || rc=$?
	is "$rc" 0 "milter $1 exits 0 on SIGTERM"
	mpid[$1]=""
}
# milter_start NAME: run it again (as milters_start, which it shares the
# log with: appended); 1 when it is not up.
milter_start() {
	local m=$1
	rm -f "$work/$m.sock"
	TMPDIR="$work/tmp" "$mil" -f -c "$work/$m.conf" 2>>"$work/$m.log" &
	mpid[$m]=$!
	wait_socket "$work/$m.sock"
	check "milter $m listening again on $work/$m.sock" [ -S "$work/$m.sock" ]
	[ -S "$work/$m.sock" ]
}

milters_kill() {
	local m
	for m in $MILTERS; do
		[ -n "${mpid[$m]:-}" ] && kill -TERM "${mpid[$m]}" 2>/dev/null || true
	done
}

# mta_cleanup: the EXIT trap of a test with nothing else to undo:
# Postfix ($pf) stopped, the milters still running sent SIGTERM.
mta_cleanup() {
	"$PF_SH" stop "$pf" >/dev/null 2>&1 || true
	milters_kill
}

# mta_end TOTAL: postfix_end TOTAL, then milters_end.
mta_end() {
	postfix_end "$1"
	milters_end
}

# postfix_end TOTAL: the Maildir holds exactly TOTAL messages and the
# queue is empty; then Postfix is stopped.
postfix_end() {
	local n
	n=$(find "$PF_MAILDIR/new" "$PF_MAILDIR/cur" -maxdepth 1 -type f | wc -l)
	is "$n" "$1" "Maildir holds exactly the $1 expected messages (nothing refused got in)"
	is "$(postqueue -c "$PF_CONF" -j | wc -l)" 0 "Postfix queue empty"
	"$PF_SH" stop "$pf" >/dev/null 2>&1
}

# milters_end: each milter exits 0 on SIGTERM (writing its reputation
# rows) without a sanitizer report; no spool file is left in TMPDIR.
milters_end() {
	local m
	for m in $MILTERS; do
		kill -TERM "${mpid[$m]}"
	done
	for m in $MILTERS; do
		wait "${mpid[$m]}" && rc=0 || rc=$?
		is "$rc" 0 "milter $m exits 0 on SIGTERM"
		mpid[$m]=""
		unlike "$(cat "$work/$m.log")" 'AddressSanitizer|LeakSanitizer|runtime error:' \
			"  no sanitizer report in its log"
	done
	is "$(find "$work/tmp" -type f | wc -l)" 0 "no spool file left in TMPDIR"
}

# nothing_left WHAT: a test point: no live process names $work (within
# 3 s: PID 1 reaps slowly here).
nothing_left() {
	local left
	for _ in $(seq 1 30); do
		left=$(ps -ww -eo stat=,args= | grep -v '^Z' | grep -F "$work" | grep -v grep || true)
		[ -z "$left" ] && break
		sleep 0.1
	done
	is "$left" "" "nothing left running ($1)"
}
