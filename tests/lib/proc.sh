# proc.sh - process and port helpers shared by the test bed and the
# Postfix harness: liveness that treats zombies as gone, waiting for pids
# to go or to be reaped, and picking a free port.  Sourced, not run.

# True while PID is a live process; a zombie counts as gone.
alive() {
	local st
	[ -r "/proc/$1/stat" ] || return 1
	st=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
	[ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# Wait up to $2 tenths of a second until no pid in the list $1 is alive.
wait_gone() {
	local i=0 p left
	while :; do
		left=""
		for p in $1; do alive "$p" && left="$left $p"; done
		[ -z "$left" ] && return 0
		[ "$i" -ge "$2" ] && return 1
		sleep 0.1
		i=$((i + 1))
	done
}

# Exited daemons are reaped by PID 1, here with some delay; wait up to $2
# tenths of a second so a "ps" right after us shows no <defunct> entries.
wait_reaped() {
	local i p left
	for i in $(seq 1 "$2"); do
		left=""
		for p in $1; do [ -e "/proc/$p" ] && left=1; done
		[ -z "$left" ] && return 0
		sleep 0.1
	done
	return 0
}

# A random port in 20000-59999 that nothing listens on (TCP or UDP) and that
# is not in the argument list.  Races with other runs are caught later: the
# server fails to bind, or answers with the wrong identity, and we retry.
pick_port() {
	local p n i
	for i in $(seq 1 50); do
		n=$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')
		p=$((20000 + n % 40000))
		case " $* " in *" $p "*) continue ;; esac
		if ! ss -Hlntu 2>/dev/null | awk '{print $5}' | grep -qE "[:.]$p\$"; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

# wait_listening PORT: wait up to 5 s until something listens on TCP
# 127.0.0.1:PORT; 1 if nothing does by then.
wait_listening() {
	for _ in $(seq 1 50); do
		ss -Hlnt "sport = :$1" 2>/dev/null | grep -q "127\.0\.0\.1:$1 " && return 0
		sleep 0.1
	done
	return 1
}
