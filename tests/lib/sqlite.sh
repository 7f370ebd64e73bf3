# sqlite.sh - database helpers for the shell tests, sourced after tap.sh.
#
#   hold_lock DB SECONDS   another process (the sqlite3 shell, as an
#                          admin's would) takes BEGIN EXCLUSIVE on DB and
#                          keeps it SECONDS (waiting up to 5 s for it
#                          while the daemon itself writes); returns once
#                          it is held (0) or after 5 s without it (1);
#                          its pid is in $holder
#   below N LIMIT          N is a number and less than LIMIT

hold_lock() {
	(printf 'BEGIN EXCLUSIVE;\n'; sleep "$2"; printf 'COMMIT;\n') | sqlite3 -cmd ".timeout 5000" "$1" &
	holder=$!
	for _i in $(seq 1 50); do
		if ! sqlite3 -cmd ".timeout 0" "$1" "BEGIN IMMEDIATE; ROLLBACK;" \
			>/dev/null 2>&1; then
			return 0
		fi
		sleep 0.1
	done
	return 1
}

below() { [ -n "$1" ] && [ "$1" -lt "$2" ]; }
