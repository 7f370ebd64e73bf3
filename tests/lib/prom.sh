# tests/lib/prom.sh - reading a daemon's metrics_file in the tests,
# through tests/lib/prom.pl (the strict reader).  Sourced after tap.sh.
#
#   prom_read FILE              parse FILE into $samples ("series value"
#                               lines); 1, with prom.pl's reason as a
#                               diag, when it does not parse
#   prom_value SERIES           its value in $samples ("missing")
#   prom_sum PREFIX             the sum of the series starting PREFIX
#   prom_wait FILE SERIES WANT  until FILE parses and SERIES is WANT
#                               (at most 10 s); 1 if it never is

# The tests are one level below tests/, as tests/lib is.
PROM_PL="$(cd "$(dirname "$0")/../lib" && pwd)/prom.pl"

prom_read() {
	samples=$("$PROM_PL" "$1" 2>&1) || {
		diag "$samples"
		samples=
		return 1
	}
}

prom_value() {
	printf '%s\n' "$samples" | awk -v s="$1" '$1 == s { print $2; f = 1 }
		END { if (!f) print "missing" }'
}

prom_sum() {
	printf '%s\n' "$samples" | awk -v p="$1" 'index($1, p) == 1 { s += $2 }
		END { print s + 0 }'
}

prom_wait() {
	for _ in $(seq 1 100); do
		if [ -f "$1" ] && prom_read "$1" 2>/dev/null >&2 &&
		   [ "$(prom_value "$2")" = "$3" ]; then
			return 0
		fi
		sleep 0.1
	done
	return 1
}
