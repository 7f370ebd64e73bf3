#!/bin/bash
# Fault tests (issue 15) under a real Postfix: the milter's spill
# directory (TMPDIR, where bodies above max_memory_body go) full while
# a big message is spooled, then read-only.  The message must be
# tempfailed, nothing delivered, nothing left behind; a message that
# fits in memory still goes out encrypted.  The directory is a 1 MB
# tmpfs the test mounts (skipped, saying why, where it cannot).
set -eu
export LC_ALL=C
. "$(dirname "$0")/../lib/tap.sh"
require_bed
. "$(dirname "$0")/../lib/mta.sh"
mta_setup fault tmp
pf="$work/pf"
MILTERS="a"
declare -A mpid=()
. "$here/../lib/mail.sh"
cleanup() {
	"$PF_SH" stop "$pf" >/dev/null 2>&1 || true
	milters_kill
	umount "$work/tmp" 2>/dev/null || true
}
trap cleanup EXIT

if ! mount -t tmpfs -o size=1m,mode=0755 smilla-fault "$work/tmp" 2>"$work/mount.err"; then
	skip "spill directory full: no small tmpfs can be mounted here ($(head -n1 "$work/mount.err"))"
	trap - EXIT
	done_testing
	exit 0
fi
: >"$work/a-require.tbl"
milter_conf a "local_domains = mx.smilla.test"
milters_start || { done_testing; exit 1; }
export PF_EXTRA_DOMAINS="smilla.test"
postfix_start || { done_testing; exit 1; }
total=0

{
	printf 'MIME-Version: 1.0\nContent-Type: text/plain; charset=us-ascii\n\n'
	head -c 2400000 /dev/urandom | base64 -w 76
} | msg full alice@smilla.test
send full alice@smilla.test
like "$out" '<(\*\*|~\*) +451 4\.3\.0 ' \
	"spill directory full (1 MB) during a 3 MB message: tempfailed (451 4.3.0)"
is "$qid" "" "  nothing accepted"
like "$(grep 'action=tempfail' "$work/a.log" | tail -n1)" 'reason="[^"]+"' "  log: the reason"
sleep 1
is "$(grep -rl '^Subject: milter-full' "$PF_MAILDIR/new" "$PF_MAILDIR/cur" 2>/dev/null | wc -l)" 0 \
	"  nothing delivered"
is "$(find "$work/tmp" -mindepth 1 | wc -l)" 0 "  no file left in the spill directory"
is "$(df --output=used -k "$work/tmp" | tail -n1 | tr -d ' ')" 0 "  and no space held there"

msg small alice@smilla.test <<'EOF'
MIME-Version: 1.0
Content-Type: text/plain; charset=us-ascii

Small enough for memory: encrypted as ever while the directory is full.
EOF
entity small
deliver small alice@smilla.test 1 "a message that fits in memory"
encrypted_ok "$m" 1 aes256-cbc
check "  alice decrypts it" decrypts_to "$m" alice small

# The same directory read-only (an admin's mistake, or a filesystem
# the kernel turned read-only after errors): a big message is
# tempfailed as well, and nothing is left.
rm -f "$work/tmp"/* 2>/dev/null || true
if mount -o remount,ro "$work/tmp" 2>"$work/mount.err"; then
	send full alice@smilla.test
	like "$out" '<(\*\*|~\*) +451 4\.3\.0 ' \
		"spill directory read-only during a 3 MB message: tempfailed (451 4.3.0)"
	is "$qid" "" "  nothing accepted"
	like "$(grep 'action=tempfail' "$work/a.log" | tail -n1)" 'reason="[^"]*(Read-only file system|read-only)[^"]*"' \
		"  log: the reason says read-only"
	mount -o remount,rw "$work/tmp"
	is "$(find "$work/tmp" -mindepth 1 | wc -l)" 0 "  no file left in the spill directory"
	sleep 1
	is "$(grep -rl '^Subject: milter-full' "$PF_MAILDIR/new" "$PF_MAILDIR/cur" 2>/dev/null | wc -l)" 0 \
		"  nothing delivered"
else
	skip "spill directory read-only: the tmpfs cannot be remounted read-only ($(head -n1 "$work/mount.err"))"
fi

mta_end "$total"
umount "$work/tmp"
nothing_left "milter, Postfix"
echo "# fault.t: $(awk -v a="$t_start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }') s"
trap - EXIT
done_testing
