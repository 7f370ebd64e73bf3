#!/bin/sh
# smilla-policyd and its database (db_path): with another process
# holding an exclusive lock on it, a cached answer on one connection
# comes at once while an uncached one is answered too (the cache write
# is queued, not waited for) and the failed write is logged; a new
# database is not world-readable under umask 022; a db_path that is not
# a database is moved aside (kept, its new name logged) and the daemon
# decides; one that cannot be opened at all leaves it deciding without
# a cache, never down.
set -eu
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/sqlite.sh"
require_bed
# below N LIMIT: N is a number under LIMIT (one command, for check).

here=$(cd "$(dirname "$0")" && pwd)
work="$BED_DIR/policy-db"
rm -rf "$work"
mkdir -p "$work"
conf="$work/smilla.conf"
write_conf() {
	{ grep -v '^dns_timeout\|^db_path' "$BED_DIR/smilla.conf"
	  echo "dns_timeout = 3"
	  echo "db_path = $1"
	  echo "authserv_id = mx.smilla.test"
	  echo "listen = unix:$work/policy.sock"; } > "$conf"
}
pid=""
holder=""
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null || true
	[ -n "$holder" ] && kill "$holder" 2>/dev/null || true
}
trap cleanup EXIT
start() {
	rm -f "$work/policy.sock"
	(umask 022; exec "$SMILLA_BUILD/smilla-policyd" -c "$conf" 2> "$work/log") &
	pid=$!
	wait_socket "$work/policy.sock"
}
stop() {
	kill -TERM "$pid"
	wait "$pid" || true
	pid=""
}
K=$GOOD_SPKI_SHA256_COLON
client() { "$here/client.pl" "$work/policy.sock"; }
db="$work/smilla.db"

write_conf "$db"
start
out=$(client <<SCRIPT
open warm
send warm helo=good.smilla.test key=$K
recv warm
SCRIPT
)
like "$out" '^warm [0-9]+ action=PREPEND DANE-Client-Auth: pass' "warm-up answer"
is "$(stat -c %a "$db")" 640 "umask 022: database created 0640"
is "$(stat -c %a "$db-wal")" 640 "  -wal 0640"
is "$(stat -c %a "$db-shm")" 640 "  -shm 0640"

# An admin's shell holds the write lock for 7 s (past the 5 s busy
# timeout).
check "another process holds BEGIN EXCLUSIVE" hold_lock "$db" 7
out=$(client <<SCRIPT
open uncached
send uncached helo=bad.smilla.test key=$K
sleep 0.5
open cached
send cached helo=good.smilla.test key=$K
recv cached 8
recv uncached 8
SCRIPT
)
cached=$(printf '%s\n' "$out" | awk '$1 == "cached" {print $2}')
uncached=$(printf '%s\n' "$out" | awk '$1 == "uncached" {print $2}')
like "$out" '^cached [0-9]+ action=PREPEND DANE-Client-Auth: pass' \
	"under the lock: a cached answer on another connection"
check "  in under 100 ms (${cached:-?} ms)" below "$cached" 100
like "$out" '^uncached [0-9]+ action=PREPEND DANE-Client-Auth: fail \(identity=bad' \
	"  the uncached request is answered"
check "  without waiting for the lock (${uncached:-?} ms)" below "$uncached" 2000
wait "$holder" || true
holder=""
for i in $(seq 1 30); do
	grep -q 'cache write failed' "$work/log" && break
	sleep 0.2
done
like "$(cat "$work/log")" 'cache write failed: database is locked \(1 entry not stored' \
	"  the failed cache write is logged"
out=$(client <<SCRIPT
open after
send after helo=bad.smilla.test key=$K
recv after
SCRIPT
)
like "$out" '^after [0-9]+ action=PREPEND DANE-Client-Auth: fail' "lock gone: still answering"
stop

# 4 KB of garbage at db_path: moved aside, the daemon starts and decides.
broken="$work/broken.db"
head -c 4096 /dev/urandom > "$broken"
cp "$broken" "$work/broken.orig"
write_conf "$broken"
start
out=$(client <<SCRIPT
open a
send a helo=good.smilla.test key=$K
recv a
SCRIPT
)
like "$out" '^a [0-9]+ action=PREPEND DANE-Client-Auth: pass' "garbage db_path: the daemon starts and decides"
log=$(cat "$work/log")
like "$log" "cache $broken: file is not a database: moved aside to $broken\\.broken-[0-9]{8}T[0-9]{6}Z, starting a new database" \
	"  logged loudly, with the new name"
aside=$(printf '%s\n' "$log" | sed -n 's/.*moved aside to \([^,]*\),.*/\1/p' | head -1)
check "  the broken file is kept under that name" cmp -s "$aside" "$work/broken.orig"
is "$(sqlite3 "$broken" "select count(*) from dns_cache")" 1 "  and a new database took its place"
stop

# A db_path that cannot be opened (its directory is missing): no cache,
# no records, still deciding.
write_conf "$work/missing/dir/smilla.db"
start
out=$(client <<SCRIPT
open a
send a helo=good.smilla.test key=$K
recv a
SCRIPT
)
like "$out" '^a [0-9]+ action=PREPEND DANE-Client-Auth: pass' "db_path cannot be opened: still decides"
like "$(cat "$work/log")" 'running without a cache' "  logged"
stop
done_testing
