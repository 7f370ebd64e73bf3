#!/bin/bash
# smilla and its database (db_path): with another process holding an
# exclusive lock on it, recipients are looked up without waiting for
# the lock (the cache write is queued) and the failed write is logged;
# a new database is not world-readable under umask 022; a db_path that
# is not a database is moved aside (kept, its new name logged) and mail
# goes through; one that cannot be opened at all leaves the milter
# working without a cache, never down.
set -eu
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/sqlite.sh"
require_bed
# below N LIMIT: N is a number under LIMIT (one command, for check).

here=$(cd "$(dirname "$0")" && pwd)
work="$BED_DIR/milter-db"
rm -rf "$work"
mkdir -p "$work"
pid=""
holder=""
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null || true
	[ -n "$holder" ] && kill "$holder" 2>/dev/null || true
}
trap cleanup EXIT
echo "required.smilla.test" > "$work/require.tbl"
start() {
	{ cat "$BED_DIR/smilla.conf"
	  echo "db_path = $1"
	  echo "milter_socket = unix:$work/smilla.sock"
	  echo "require_encryption_table = $work/require.tbl"; } > "$work/smilla.conf"
	rm -f "$work/smilla.sock"
	(umask 022; exec "$SMILLA_BUILD/smilla" -f -c "$work/smilla.conf" 2> "$work/smilla.log") &
	pid=$!
	wait_socket "$work/smilla.sock"
}
stop() {
	kill "$pid"
	wait "$pid" 2>/dev/null || true
	pid=""
}
# One message to alice (encrypted) and the refusal of a required
# keyless recipient: sequence.lua's checks.
message() {
	MT_SOCK="unix:$work/smilla.sock" MT_DIR="$here" \
		miltertest -s "$here/sequence.lua" > "$work/$1.out" 2>&1 && rc=0 || rc=$?
}

db="$work/smilla.db"
start "$db"
message warm
is "$rc" 0 "a message through the milter"
is "$(stat -c %a "$db")" 640 "umask 022: database created 0640"
is "$(stat -c %a "$db-wal")" 640 "  -wal 0640"
is "$(stat -c %a "$db-shm")" 640 "  -shm 0640"

# An admin's shell holds the write lock for 7 s (past the 5 s busy
# timeout); the lookups of a message (uncached again after a flush)
# write to the cache.
run "$SMILLA_BUILD/smillactl" -c "$work/smilla.conf" cache flush
is "$rc" 0 "cache flushed"
check "another process holds BEGIN EXCLUSIVE" hold_lock "$db" 7
t0=$(date +%s%N)
message locked
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
is "$rc" 0 "under the lock: the message goes through"
check "  without waiting for the lock (${ms} ms, the busy timeout is 5000)" below "$ms" 2500
wait "$holder" || true
holder=""
for i in $(seq 1 30); do
	grep -q 'cache write failed' "$work/smilla.log" && break
	sleep 0.2
done
like "$(cat "$work/smilla.log")" 'cache write failed: database is locked \([0-9]+ entr(y|ies) not stored' \
	"  the failed cache write is logged"
message after
is "$rc" 0 "lock gone: mail still goes through"
stop

# 4 KB of garbage at db_path: moved aside, the milter starts and works.
broken="$work/broken.db"
head -c 4096 /dev/urandom > "$broken"
cp "$broken" "$work/broken.orig"
start "$broken"
message broken
is "$rc" 0 "garbage db_path: the milter starts, a message goes through"
log=$(cat "$work/smilla.log")
like "$log" "cache $broken: file is not a database: moved aside to $broken\\.broken-[0-9]{8}T[0-9]{6}Z, starting a new database" \
	"  logged loudly, with the new name"
aside=$(printf '%s\n' "$log" | sed -n 's/.*moved aside to \([^,]*\),.*/\1/p' | head -1)
check "  the broken file is kept under that name" cmp -s "$aside" "$work/broken.orig"
stop
check "  a new database took its place" sqlite3 "$broken" "select count(*) from dns_cache"

# A db_path that cannot be opened (its directory is missing).
start "$work/missing/dir/smilla.db"
message missing
is "$rc" 0 "db_path cannot be opened: a message still goes through"
like "$(cat "$work/smilla.log")" 'running without a cache' "  logged"
stop
done_testing
