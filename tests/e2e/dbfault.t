#!/bin/bash
# Fault tests (issue 15): the sqlite database (db_path: cache and
# reputation store) failing under both daemons.  Both keep their
# databases in a small tmpfs the test mounts (skipped, saying why, where
# it cannot), and each fault in turn:
#   full       the filesystem full (a filler file takes what is left);
#   readonly   the daemons started again on a read-only view of it (a
#              filesystem cannot be made read-only under files open for
#              writing);
#   corrupt    the database files (and their -wal and -shm) overwritten
#              with garbage while the daemons run;
#   deleted    the database files removed while they run.
# Meanwhile smilla-policyd decides cached and uncached clients and the
# milter, under a real Postfix, encrypts to cached and uncached
# recipients: no decision waits, none is turned into a pass, every
# message is delivered encrypted, and each daemon logs the failure (a
# corrupt file is moved aside and kept, a new one takes its place).
# After each repair both record decisions again (new rows in the store).
set -eu
export LC_ALL=C
. "$(dirname "$0")/../lib/tap.sh"
require_bed
. "$(dirname "$0")/../lib/mta.sh"
mta_setup dbfault tmp store
pf="$work/pf"
MILTERS="a"
declare -A mpid=()
. "$here/../lib/mail.sh"
. "$BED_DIR/bed.env"
client() { "$here/../policy/client.pl" "$work/policy.sock"; }
store="$work/store"
pol_pid=""
cleanup() {
	"$PF_SH" stop "$pf" >/dev/null 2>&1 || true
	milters_kill
	[ -n "$pol_pid" ] && kill -TERM "$pol_pid" 2>/dev/null || true
	# The daemons take a moment to close their files; then lazily, so
	# that the next run finds no mount left.
	for d in "$work/ro" "$store"; do
		for _ in $(seq 1 30); do
			mountpoint -q "$d" || break
			umount "$d" 2>/dev/null && break
			sleep 0.1
		done
		mountpoint -q "$d" && umount -l "$d" 2>/dev/null || true
	done
}
trap cleanup EXIT

if ! mount -t tmpfs -o size=2m,mode=0755 smilla-dbfault "$store" 2>"$work/mount.err"; then
	skip "database faults: no small tmpfs can be mounted here ($(head -n1 "$work/mount.err"))"
	trap - EXIT
	done_testing
	exit 0
fi

# Both daemons write every second, and look for a deleted or replaced
# file as often.
common=""
{ grep -v '^db_path' "$BED_DIR/smilla.conf"
  printf '%s\n' "$common"
  echo "db_path = $store/policy.db"
  echo "authserv_id = mx.smilla.test"
  echo "listen = unix:$work/policy.sock"; } >"$work/policy.conf"
pol_start() {
	rm -f "$work/policy.sock"
	"$SMILLA_BUILD/smilla-policyd" -c "$work/policy.conf" 2>>"$work/policy.log" &
	pol_pid=$!
	wait_socket "$work/policy.sock"
	check "smilla-policyd listening" [ -S "$work/policy.sock" ]
}
# pol_restart DIR: stopped, and started again with its database in DIR.
pol_restart() {
	kill -TERM "$pol_pid"
	wait "$pol_pid" && rc=0 || rc=$?
	is "$rc" 0 "smilla-policyd exits 0 on SIGTERM"
	sed -i "s|^db_path = .*|db_path = $1/policy.db|" "$work/policy.conf"
	pol_start
}
pol_start

: >"$work/a-require.tbl"
milter_conf a "local_domains = mx.smilla.test" "$common"
sed -i "s|^db_path = .*|db_path = $store/a.db|" "$work/a.conf"
milters_start || { done_testing; exit 1; }
export PF_EXTRA_DOMAINS="smilla.test"
postfix_start || { done_testing; exit 1; }
total=0
K=$GOOD_SPKI_SHA256_COLON

# rows DB: the reputation events recorded in DB so far (0 when it
# cannot be read).
rows() { sqlite3 "$1" "select count(*) from rep_events" 2>/dev/null || echo 0; }
# wait_rows DB N: until DB holds more than N events (20 s: a writer
# looks for a replaced file every 5 s).
wait_rows() {
	for _ in $(seq 1 200); do
		[ "$(rows "$1")" -gt "$2" ] && return 0
		sleep 0.1
	done
	return 1
}

# logged FILE LINE PATTERN: a line after the first LINE lines of FILE
# matches PATTERN (waiting up to 12 s: a deleted file is looked for
# every 5 s).
logged() {
	for _ in $(seq 1 120); do
		sed -n "$(($2 + 1)),\$p" "$1" | grep -qE "$3" && return 0
		sleep 0.1
	done
	echo "# not in $1 after line $2: $3"
	sed -n "$(($2 + 1)),\$p" "$1" | grep -v ' info: ' | sed 's/^/#   /' | head -n 8
	return 1
}

out=$(printf 'open w\nsend w helo=good.smilla.test key=%s\nrecv w\n' "$K" | client)
like "$out" '^w [0-9]+ action=PREPEND DANE-Client-Auth: pass' "store working: good.smilla.test passes (and is cached)"
note warm alice@smilla.test "The store works: alice's key is cached from now on."
deliver warm alice@smilla.test 1 "store working: to alice"
encrypted_ok "$m" 1 aes256-cbc
check "both stores hold events" wait_rows "$store/a.db" 0
check "  (smilla-policyd's too)" wait_rows "$store/policy.db" 0

for fi in 1:full 2:readonly 3:corrupt 4:deleted; do
	ph=${fi%%:*}
	f=${fi#*:}
	rcpt=$(printf 'rcpt%02d@smilla.test' "$ph")
	pl=$(wc -l <"$work/policy.log")
	ml=$(wc -l <"$work/a.log")
	case $f in
	full) dd if=/dev/zero of="$store/filler" bs=64k 2>/dev/null || true ;;
	readonly)
		# A filesystem cannot be made read-only under files open for
		# writing; the daemons start again on a read-only view of it.
		mkdir -p "$work/ro"
		mount --bind "$store" "$work/ro"
		mount -o remount,bind,ro "$work/ro"
		pol_restart "$work/ro"
		sed -i "s|^db_path = .*|db_path = $work/ro/a.db|" "$work/a.conf"
		milter_stop a
		milter_start a ;;
	deleted) rm -f "$store"/*.db "$store"/*.db-wal "$store"/*.db-shm ;;
	corrupt)
		for d in "$store"/*.db "$store"/*.db-wal "$store"/*.db-shm; do
			head -c "$(stat -c %s "$d")" /dev/urandom | dd of="$d" conv=notrunc 2>/dev/null
		done ;;
	esac

	out=$(printf 'open c\nsend c helo=good.smilla.test key=%s\nrecv c 5\nopen u\nsend u helo=bad.smilla.test key=%s instance=u%s\nrecv u 8\n' "$K" "$K" "$ph" | client)
	like "$out" '^c [0-9]+ action=PREPEND DANE-Client-Auth: pass' "store $f: the cached client passes"
	ms=$(printf '%s\n' "$out" | awk '$1 == "c" {print $2}')
	check "  at once (${ms:-?} ms)" [ "${ms:-9999}" -lt 500 ]
	like "$out" '^u [0-9]+ action=PREPEND DANE-Client-Auth: fail \(identity=bad\.smilla\.test' \
		"  an uncached client is decided: fail, never a pass"

	note "c$ph" alice@smilla.test "Sent while the store is $f: to alice."
	deliver "c$ph" alice@smilla.test 1 "store $f: to alice"
	encrypted_ok "$m" 1 aes256-cbc
	check "  alice decrypts it" decrypts_to "$m" alice "c$ph"
	note "n$ph" "$rcpt" "Sent while the store is $f: to $rcpt, not looked up before."
	deliver "n$ph" "$rcpt" 1 "  to uncached $rcpt"
	encrypted_ok "$m" 1 aes256-cbc
	check "  it decrypts" cms_to "$m" "n$ph"
	case $f in
	full) said='no space left on device' ;;
	readonly) said='attempt to write a readonly database|unable to open database file; running without a cache' ;;
	corrupt) said='(database disk image is malformed|file is not a database): moved aside to [^ ]+\.db\.broken-[0-9]{8}T[0-9]{6}Z: opened it again' ;;
	deleted) said='\.db was deleted: opened it again' ;;
	esac
	check "  smilla-policyd logs it" logged "$work/policy.log" "$pl" "$said"
	check "  the milter logs it" logged "$work/a.log" "$ml" "$said"
	pe=$(rows "$store/policy.db")
	me=$(rows "$store/a.db")

	case $f in
	full) rm -f "$store/filler" ;;
	readonly)
		pol_restart "$store"
		sed -i "s|^db_path = .*|db_path = $store/a.db|" "$work/a.conf"
		milter_stop a
		milter_start a
		umount "$work/ro" ;;
	esac
	# Repaired (or, for corrupt and deleted, a new file): the decisions
	# made from now on are recorded.
	out=$(printf 'open a\nsend a helo=bad.smilla.test key=%s instance=a%s\nrecv a 8\n' "$K" "$ph" | client)
	like "$out" '^a [0-9]+ action=PREPEND DANE-Client-Auth: fail' "store $f repaired: decisions go on"
	check "  and are recorded again by smilla-policyd" wait_rows "$store/policy.db" "$pe"
	note "d$ph" alice@smilla.test "Sent after the store was $f."
	deliver "d$ph" alice@smilla.test 1 "  a message to alice"
	encrypted_ok "$m" 1 aes256-cbc
	check "  recorded again by the milter" wait_rows "$store/a.db" "$me"
done
aside=$(find "$store" -name '*.db.broken-*' ! -name '*-wal' ! -name '*-shm' | wc -l)
is "$aside" 2 "the two corrupt files are kept, moved aside"

unlike "$(cat "$work/policy.log")" 'AddressSanitizer|LeakSanitizer|runtime error:' \
	"smilla-policyd: no sanitizer report"
kill -TERM "$pol_pid"
wait "$pol_pid" && rc=0 || rc=$?
pol_pid=""
is "$rc" 0 "smilla-policyd exits 0 on SIGTERM"
mta_end "$total"
sleep 0.3
umount "$store"
nothing_left "milter, Postfix, policy daemon"
echo "# dbfault.t: $(awk -v a="$t_start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }') s"
trap - EXIT
done_testing
