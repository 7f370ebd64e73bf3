#!/bin/bash
# milter-bench.sh - throughput, CPU and memory of the smilla milter
# against a do-nothing libmilter milter, on loopback, with the DNSSEC
# test bed.
#
#   bench/milter-bench.sh            (or: make bench, after policy-bench)
#
# bench/milter-load speaks the milter protocol (as Postfix does) over
# BENCH_CONNS (8) persistent unix-socket connections, one message after
# the other on each.  Every message is BENCH_BODY (100 KB) of text/plain.
# Runs, each BENCH_SECONDS (5) after BENCH_WARMUP (1) s of warm-up:
#   (a1)  bench/null-milter, 1 recipient (baseline)
#   (a10) bench/null-milter, 10 recipients (baseline for (c10))
#   (b)   smilla, pass-through: nobody@smilla.test has no SMIMEA
#   (c1)  smilla, encryption to alice@smilla.test
#   (c10) smilla, encryption to rcpt01..rcpt10@smilla.test
# and one BENCH_BIG (50 MB) message encrypted to alice through a smilla
# that has handled only the warm-up messages: its peak memory (VmHWM)
# before and after.  Every smilla message is checked: pass-through gets
# no new body and an "X-Smilla: plaintext" header; encryption gets a
# replaced body and "X-Smilla: encrypted"; one message of (c1), (c10) and
# the 50 MB one are decrypted with openssl cms and compared byte for byte
# with the original MIME entity.
# Exit status: 0 when no run had errors or tempfails and every check
# passed, 1 otherwise, 2 on setup failure.
#
# Environment: SMILLA_BUILD (default ./build), BENCH_SECONDS,
# BENCH_WARMUP, BENCH_CONNS, BENCH_BODY (octets, or with k/M),
# BENCH_BIG (same; 0 skips the big message), BENCH_KEEP=1 keeps the
# work directory (configs, logs, milter-load output).
#
# The helpers it shares with bench/policy-bench.sh are in bench/lib.sh.
set -u

PROG=milter-bench
# TOP, BUILD, SECS, WARM, CONNS (from the environment) and the helpers:
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "$0")/lib.sh"

BODY=${BENCH_BODY:-100k}
BIG=${BENCH_BIG:-50M}
SM=$BUILD/smilla
ML=$BUILD/bench/milter-load
NM=$BUILD/bench/null-milter

STOP_SECS=10	# libmilter takes a few seconds to wind down
START_SECS=10

# The milter-load calls: load TAG SERVER_PID milter-load-args... and
# the measured runs, run TAG LABEL SERVER_PID milter-load-args... (with
# -c -d -w and -b added), both in lib.sh; the result line goes to
# RES_TAG with server_cpu_ms (the server's CPU per message, warm-up
# included) appended.  Errors and tempfails count for the exit status.
LOADER=$ML
LOAD_OPTS=(-b "$BODY")
LOAD_FILES=load
CPU_KEY=server_cpu_ms CPU_PER=total CPU_SCALE=1e3 CPU_FMT=%.3f
LOAD_FAILED="msgs=0 mps=0 p50_us=0 p99_us=0 errors=1 tempfail=0 total=0"
LOAD_BAD="errors or tempfails"

NOTES=""
# shellcheck disable=SC2034 # read through ${!v}
RES_a1="" RES_a10="" RES_abig="" RES_b="" RES_c1="" RES_c10="" RES_big=""

# A failed check: reported at the end, exit status 1.
bad() {
	say "CHECK FAILED: $*"
	NOTES="$NOTES
CHECK FAILED: $*"
	RC=1
}

# ---------------------------------------------------------------- build

[ -x "$SM" ] || fail "$SM missing: run make first"
build_prog milter-load -lpthread
build_prog null-milter -lmilter -lpthread
for t in openssl base64 cmp; do
	command -v "$t" >/dev/null 2>&1 || fail "missing tool: $t"
done

# ---------------------------------------------------------------- helpers

# Peak resident set size of process $1, kB.
hwm_kb() {
	awk '/^VmHWM:/ { print $2 }' "/proc/$1/status" 2>/dev/null
}

# expect TAG KIND: check what the milter did to every message of a run.
#   pass:  the null milter: accepted, nothing changed
#   plain: smilla pass-through: no new body, X-Smilla: plaintext on each
#   enc:   smilla encryption: new body and X-Smilla: encrypted on each
expect() {
	local tag=$1 kind=$2 v r total
	v=RES_$tag
	r=${!v}
	total=$(field "$r" total)
	[ "${total:-0}" -gt 0 ] || { bad "($tag): no message went through"; return; }
	[ "$(field "$r" errors)" = 0 ] || bad "($tag): $(field "$r" errors) errors"
	[ "$(field "$r" tempfail)" = 0 ] || bad "($tag): $(field "$r" tempfail) tempfails"
	[ "$(field "$r" reject)" = 0 ] || bad "($tag): $(field "$r" reject) rejects"
	[ "$(field "$r" rcpt_refused)" = 0 ] || bad "($tag): recipients refused"
	case $kind in
	pass)
		[ "$(field "$r" replbody_bytes)" = 0 ] || bad "($tag): body replaced"
		;;
	plain)
		[ "$(field "$r" replbody_bytes)" = 0 ] ||
			bad "($tag): pass-through, but $(field "$r" replbody_msgs) bodies replaced"
		[ "$(field "$r" status_plaintext)" = "$total" ] ||
			bad "($tag): $(field "$r" status_plaintext) of $total messages got X-Smilla: plaintext"
		;;
	enc)
		[ "$(field "$r" replbody_msgs)" = "$total" ] ||
			bad "($tag): $(field "$r" replbody_msgs) of $total bodies replaced"
		[ "$(field "$r" status_encrypted)" = "$total" ] ||
			bad "($tag): $(field "$r" status_encrypted) of $total messages got X-Smilla: encrypted"
		[ "$(field "$r" replbody_bytes)" -gt 0 ] || bad "($tag): no body bytes"
		;;
	esac
}

# decrypt_check TAG PREFIX: PREFIX.body (base64 CMS, CRLF lines) must
# decrypt with alice's key to exactly PREFIX.entity.
decrypt_check() {
	local tag=$1 p=$2
	if [ ! -s "$p.body" ]; then
		bad "($tag): no encrypted body saved"
		return
	fi
	if tr -d '\r' <"$p.body" | base64 -d 2>"$p.b64err" |
		openssl cms -decrypt -inform DER -recip "$BED_DIR/certs/alice.pem" \
			-inkey "$BED_DIR/certs/alice.key" -out "$p.dec" 2>"$p.cmserr" &&
		cmp -s "$p.dec" "$p.entity"; then
		say "($tag): decrypted with alice's key: byte-exact original entity"
		DECRYPTED="$DECRYPTED $tag"
	else
		bad "($tag): openssl cms -decrypt did not give back the original entity"
		head -n 3 "$p.b64err" "$p.cmserr" >&2
	fi
	rm -f "$p.dec"
}

# ---------------------------------------------------------------- setup

bench_setup smilla-mbench

# Ten recipients with an SMIMEA each (the bed publishes rcpt01..rcpt10,
# all with alice's certificate).  An older bed without them: alice ten
# times, which smilla may or may not collapse into one recipient.
RCPT10_NOTE=""
if [ -n "${BENCH_RCPTS:-}" ]; then
	RCPT10=$(echo "$BENCH_RCPTS" | tr -s ' ' ',')
else
	RCPT10=$(printf 'alice@smilla.test,%.0s' $(seq 1 10) | sed 's/,$//')
	RCPT10_NOTE="NOTE: the test bed has no rcpt01..rcpt10; (c10) used alice@smilla.test ten times"
	say "$RCPT10_NOTE"
fi
ALICE=alice@smilla.test
NOBODY=nobody@smilla.test

{
	grep -vE '^[[:space:]]*(milter_socket|pid_file|log|log_level|db_path|max_message_size|authserv_id)[[:space:]]*=' \
		"$WORK/bed/smilla.conf"
	echo "milter_socket = unix:$WORK/smilla.sock"
	echo "pid_file = $WORK/smilla.pid"
	echo "log = stderr"
	echo "log_level = warning"
	echo "db_path = $WORK/smilla.db"
	echo "max_message_size = 67108864"
	echo "authserv_id = mx.smilla.test"
} >"$WORK/smilla.conf"

# ---------------------------------------------------------------- baseline

start_daemon null-milter "$WORK/null.sock" "$WORK/null.log" \
	"$NM" -p "unix:$WORK/null.sock"
NULL_PID=$DPID
run a1 "null-milter, 1 recipient (baseline)" "$NULL_PID" \
	-u "$WORK/null.sock" -r "$NOBODY"
expect a1 pass
run a10 "null-milter, 10 recipients (baseline)" "$NULL_PID" \
	-u "$WORK/null.sock" -r "$RCPT10"
expect a10 pass
if [ "$BIG" != 0 ]; then
	say "null-milter: one $BIG message ..."
	load abig "$NULL_PID" -u "$WORK/null.sock" -n 1 -b "$BIG" -r "$ALICE"
	expect abig pass
fi
stop_daemon "$NULL_PID"

# ---------------------------------------------------------------- smilla

start_daemon smilla "$WORK/smilla.sock" "$WORK/smilla.log" \
	"$SM" -f -c "$WORK/smilla.conf"
SM_PID=$DPID

# Warm-up: one message to everyone the runs use, so each lookup is made
# once and cached (mixed keys: it passes as plaintext).  Then one message
# each of (c1) and (c10), kept and decrypted.
say "warm-up: one message to $NOBODY, $ALICE and the ten ..."
load warm "$SM_PID" -u "$WORK/smilla.sock" -n 1 -b "$BODY" \
	-r "$NOBODY,$ALICE,$RCPT10"
expect warm plain
DECRYPTED=""
load dec1 "$SM_PID" -u "$WORK/smilla.sock" -n 1 -b "$BODY" -r "$ALICE" \
	-o "$WORK/dec1"
expect dec1 enc
decrypt_check c1 "$WORK/dec1"
load dec10 "$SM_PID" -u "$WORK/smilla.sock" -n 1 -b "$BODY" -r "$RCPT10" \
	-o "$WORK/dec10"
expect dec10 enc
decrypt_check c10 "$WORK/dec10"
X_ENC=$(sed -n 's/^add X-Smilla: *//p' "$WORK/dec10.mods" | head -n 1)
HWM_WARM=$(hwm_kb "$SM_PID")

# Peak memory with one big message, before the throughput runs raise it.
HWM_BIG="" BIG_MS="" BIG_CPU=""
if [ "$BIG" != 0 ]; then
	say "one $BIG message to $ALICE ..."
	load big "$SM_PID" -u "$WORK/smilla.sock" -n 1 -b "$BIG" -r "$ALICE" \
		-o "$WORK/big"
	expect big enc
	HWM_BIG=$(hwm_kb "$SM_PID")
	BIG_MS=$(awk -v u="$(field "$RES_big" max_us)" 'BEGIN { printf "%.0f", u / 1000 }')
	BIG_CPU=$(field "$RES_big" server_cpu_ms)
	decrypt_check big "$WORK/big"
	rm -f "$WORK"/big.*
fi

run b "smilla, pass-through (no SMIMEA)" "$SM_PID" \
	-u "$WORK/smilla.sock" -r "$NOBODY"
expect b plain
run c1 "smilla, encryption to 1 recipient" "$SM_PID" \
	-u "$WORK/smilla.sock" -r "$ALICE"
expect c1 enc
run c10 "smilla, encryption to 10 recipients" "$SM_PID" \
	-u "$WORK/smilla.sock" -r "$RCPT10"
expect c10 enc
HWM_END=$(hwm_kb "$SM_PID")
kill -0 "$SM_PID" 2>/dev/null || bad "smilla is gone (see its log)"
stop_daemon "$SM_PID"
LOG_LINES=$(grep -c . "$WORK/smilla.log")

# ---------------------------------------------------------------- report

T1=$(date +%s.%N)
{
	echo
	echo "smilla milter benchmark: $CONNS connections, ${SECS}s after ${WARM}s warm-up," \
	     "$BODY body, unix sockets"
	echo "host: $(nproc) CPUs, $(uname -sr)"
	echo
	printf '%-38s %8s %6s %8s %8s %8s %7s\n' run msgs/s ratio p50_ms p99_ms cpu_ms errors
	for t in a1 a10 b c1 c10; do
		v=RES_$t
		case $t in
		a1) label="(a1) null-milter, 1 rcpt (baseline)"; base=$RES_a1 ;;
		a10) label="(a10) null-milter, 10 rcpts"; base=$RES_a10 ;;
		b) label="(b) smilla, pass-through"; base=$RES_a1 ;;
		c1) label="(c1) smilla, encrypt to 1 rcpt"; base=$RES_a1 ;;
		c10) label="(c10) smilla, encrypt to 10 rcpts"; base=$RES_a10 ;;
		esac
		awk -v l="$label" -v m="$(field "${!v}" mps)" -v bm="$(field "$base" mps)" \
		    -v p50="$(field "${!v}" p50_us)" -v p99="$(field "${!v}" p99_us)" \
		    -v cpu="$(field "${!v}" server_cpu_ms)" \
		    -v e1="$(field "${!v}" errors)" -v e2="$(field "${!v}" tempfail)" 'BEGIN {
			e = e1 + e2
			printf "%-38s %8.1f %6.2f %8.2f %8.2f %8.3f %7d\n", l, m,
				(bm > 0) ? m / bm : 0, p50 / 1000, p99 / 1000, cpu, e
		}'
	done
	echo
	echo "ratio: msgs/s against the baseline with the same number of recipients."
	echo "cpu_ms: CPU time of the milter process (user + system, all threads) per"
	echo "message, warm-up included; for smilla (c1)/(c10) that is the CPU per"
	echo "encrypted message."
	echo
	if [ "$BIG" != 0 ]; then
		echo "peak memory of smilla (VmHWM): $HWM_WARM kB after warm-up," \
		     "$HWM_BIG kB after one $BIG message encrypted to alice" \
		     "(+$((HWM_BIG - HWM_WARM)) kB); $HWM_END kB after all runs"
		echo "the $BIG message: ${BIG_MS} ms through smilla, ${BIG_CPU} ms CPU;" \
		     "$(awk -v u="$(field "$RES_abig" max_us)" 'BEGIN { printf "%.0f", u / 1000 }') ms through null-milter"
	else
		echo "peak memory of smilla (VmHWM): $HWM_WARM kB after warm-up, $HWM_END kB after all runs"
	fi
	echo "status header of an encrypted message: X-Smilla: $X_ENC"
	echo "decrypted and compared byte for byte:${DECRYPTED:- none}"
	echo "smilla log (log_level = warning): $LOG_LINES lines"
	[ "$LOG_LINES" -gt 0 ] && sed 's/^/  | /' "$WORK/smilla.log" | head -n 10
	[ -n "$RCPT10_NOTE" ] && echo "$RCPT10_NOTE"
	[ -n "$NOTES" ] && echo "$NOTES"
	echo
	echo "raw:"
	for t in a1 a10 abig b c1 c10 big; do
		v=RES_$t
		[ -n "${!v:-}" ] && echo "($t) ${!v}"
	done
	report_end
}
exit "$RC"
