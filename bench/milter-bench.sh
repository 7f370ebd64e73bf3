#!/bin/bash
# milter-bench.sh - throughput, CPU and memory of the smilla milter,
# encrypting S/MIME and PGP/MIME and verifying signed mail, against a
# do-nothing libmilter milter measured in the same run, on loopback,
# with the DNSSEC test bed.
#
#   bench/milter-bench.sh            (or: make bench, after policy-bench)
#
# bench/milter-load speaks the milter protocol (as Postfix does) over
# BENCH_CONNS (8) persistent unix-socket connections, one message after
# the other on each; a message is text/plain, its body one of
# BENCH_BODIES (10k 100k).  For each body size and for 1 and 10
# recipients, these runs take turns:
#   null   bench/null-milter (the baseline of the turn)
#   pass   smilla passing the message: nobody@smilla.test has no key
#          (1 recipient only)
#   smime  smilla encrypting S/MIME: alice, or rcpt01..rcpt10 (SMIMEA,
#          a certificate each)
#   pgp    smilla encrypting PGP/MIME: bob, or pgp01..pgp10 (OPENPGPKEY,
#          a cv25519 key each)
# and, with 1 recipient, user@mx.smilla.test (local_domains =
# mx.smilla.test: inbound, not encrypted, signatures checked), messages
# signed here at the start with the bed's keys, their signed text/plain
# part of the body size:
#   nullvsmime, nullvpgp  bench/null-milter with the same signed
#          message (the baseline of the next)
#   vsmime smilla verifying S/MIME (multipart/signed, detached, openssl
#          cms -sign) by frank@smilla.test (SMIMEA 3 1 1)
#   vpgp   smilla verifying PGP/MIME (gpg --detach-sign) by
#          bob@smilla.test (OPENPGPKEY, ed25519)
# in BENCH_ROUNDS (3) rounds, each run BENCH_SECONDS (3) after
# BENCH_WARMUP (0.5) s of warm-up, both milters up all the time.  The
# report gives medians over the rounds, and the median of each round's
# ratio against the null milter with the same message and recipients.
# Then one BENCH_BIG (50 MB) message each: through the null milter (its
# time), and through smilla to alice (S/MIME) and to bob (PGP/MIME),
# with smilla's peak memory (VmHWM, reset before each message).
#
# Checks: the null milter changes nothing; pass-through gets no new body
# and "X-Smilla: plaintext"; encryption gets a new body and "X-Smilla:
# encrypted" on every message; verification gets no new body and, on
# every message, an Authentication-Results whose first result is
# smime=pass or x-pgp=pass (counted by milter-load -A).  Before the
# rounds, one message of each size, format and recipient count, and
# each big one, is saved and decrypted (openssl cms with alice's key,
# gpg with bob's or the bench keys) and compared byte for byte with the
# original MIME entity; its status header must name the format, and it
# must hold one RecipientInfo (S/MIME) or PKESK (OpenPGP) per
# recipient.  One signed message of each size and kind is verified
# before the rounds too, and its Authentication-Results shown.  A run
# that fails a check is listed at the end, and its row in the table
# gives no figures.
# Exit status: 0 when no run had errors or tempfails and every check
# passed, 1 otherwise, 2 on setup failure.
#
# Environment: SMILLA_BUILD (default ./build), BENCH_SECONDS,
# BENCH_WARMUP, BENCH_ROUNDS, BENCH_CONNS, BENCH_BODIES (sizes: octets,
# or with k/M), BENCH_BIG (same; 0 skips the big messages),
# BENCH_KEEP=1 keeps the work directory (configs, logs, milter-load
# output, the signed messages, the saved messages).
#
# The helpers it shares with the other benchmarks are in bench/lib.sh.
set -u

PROG=milter-bench
# TOP, BUILD, SECS, WARM, CONNS (from the environment) and the helpers:
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "$0")/lib.sh"
# signed_entity, the signed messages of the verification runs
# shellcheck source=SCRIPTDIR/../tests/lib/sign.sh
. "$TOP/tests/lib/sign.sh"

SECS=${BENCH_SECONDS:-3}
WARM=${BENCH_WARMUP:-0.5}
ROUNDS=${BENCH_ROUNDS:-3}
BODIES=${BENCH_BODIES:-10k 100k}
BIG=${BENCH_BIG:-50M}
SM=$BUILD/smilla
ML=$BUILD/bench/milter-load
NM=$BUILD/bench/null-milter

STOP_SECS=10	# libmilter takes a few seconds to wind down
START_SECS=10

# The milter-load calls: load TAG SERVER_PID milter-load-args... and
# the measured runs, run TAG LABEL SERVER_PID milter-load-args... (with
# -c -d -w added), both in lib.sh; the result line goes to RES_TAG with
# server_cpu_ms (the server's CPU per message, warm-up included)
# appended.  Errors and tempfails count for the exit status.
LOADER=$ML
LOAD_OPTS=()
LOAD_FILES=load
CPU_KEY=server_cpu_ms CPU_PER=total CPU_SCALE=1e3 CPU_FMT=%.3f
LOAD_FAILED="msgs=0 mps=0 p50_us=0 p99_us=0 errors=1 tempfail=0 total=0"
LOAD_BAD="errors or tempfails"

DECRYPTED=""

# ---------------------------------------------------------------- build

[ -x "$SM" ] || fail "$SM missing: run make first"
build_prog milter-load -lpthread
build_prog null-milter -lmilter -lpthread
for t in openssl gpg gpgconf base64 cmp awk; do
	command -v "$t" >/dev/null 2>&1 || fail "missing tool: $t"
done

# ---------------------------------------------------------------- helpers

# Memory of process $1, kB: peak (VmHWM) and now (VmRSS).
hwm_kb() {
	awk '/^VmHWM:/ { print $2 }' "/proc/$1/status" 2>/dev/null
}
rss_kb() {
	awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null
}

# Reset the peak of process $1 to what it uses now (Linux: "5" to
# clear_refs), so that each big message gets a peak of its own.
HWM_RESET=1
hwm_reset() {
	if ! echo 5 2>/dev/null >"/proc/$1/clear_refs"; then
		[ "$HWM_RESET" = 1 ] &&
			NOTES="$NOTES
NOTE: VmHWM cannot be reset here: each peak is the process's highest so far"
		HWM_RESET=0
	fi
}

# A tag part made of a body size: 10k -> 10k, 1.5M -> 1_5M.
tagof() {
	printf '%s' "$1" | tr -c 'A-Za-z0-9' '_'
}

# Milliseconds of the max_us field of a result line.
max_ms() {
	awk -v u="$(field "$1" max_us)" 'BEGIN { printf "%.0f", u / 1000 }'
}

# expect TAG KIND: check what the milter did to every message of a run.
#   pass:  the null milter: accepted, nothing changed
#   plain: smilla pass-through: no new body, X-Smilla: plaintext on each
#   enc:   smilla encryption: new body and X-Smilla: encrypted on each
#   verify: smilla verification: no new body, and on each an
#          Authentication-Results whose first result is a pass of the
#          method milter-load was given (-A)
# A run that fails is added to FAILED: its row gives no figures.
FAILED=" "
expect() {
	local tag=$1 kind=$2 v r total notes=$NOTES
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
	verify)
		[ "$(field "$r" replbody_bytes)" = 0 ] ||
			bad "($tag): verification, but $(field "$r" replbody_msgs) bodies replaced"
		if [ "$(field "$r" auth_pass)" != "$total" ] ||
		   [ "$(field "$r" auth_other)" != 0 ]; then
			bad "($tag): $(field "$r" auth_pass) of $total messages got an Authentication-Results pass, $(field "$r" auth_other) another result"
		fi
		;;
	esac
	[ "$NOTES" = "$notes" ] || FAILED="$FAILED$tag "
}

# decrypt_check TAG PREFIX FORMAT KEYS: the message milter-load saved
# under PREFIX (-o) has "X-Smilla: encrypted FORMAT" (smime or pgp),
# holds KEYS RecipientInfos or PKESKs, and decrypts to exactly
# PREFIX.entity: S/MIME with alice's key (it is rcpt01..rcpt10's too),
# OpenPGP with the secret keys in $GNUPGHOME.
decrypt_check() {
	local tag=$1 p=$2 format=$3 keys=$4 got
	if [ ! -s "$p.body" ]; then
		bad "($tag): no encrypted body saved"
		return
	fi
	grep -q "^add X-Smilla: *encrypted $format;" "$p.mods" ||
		bad "($tag): not X-Smilla: encrypted $format: $(grep X-Smilla "$p.mods")"
	case $format in
	smime)
		tr -d '\r' <"$p.body" | base64 -d >"$p.der" 2>"$p.err"
		got=$(openssl cms -cmsout -print -inform DER -in "$p.der" 2>>"$p.err" |
			grep -c 'd\.ktri:')
		openssl cms -decrypt -inform DER -in "$p.der" \
			-inkey "$BED_DIR/certs/alice.key" -out "$p.dec" 2>>"$p.err"
		;;
	pgp)
		tr -d '\r' <"$p.body" |
			sed -n '/^-----BEGIN PGP MESSAGE-----$/,/^-----END PGP MESSAGE-----$/p' \
			>"$p.asc"
		got=$(gpg --batch --list-only --list-packets "$p.asc" 2>>"$p.err" |
			grep -c 'pubkey enc packet')
		gpg --batch --quiet --decrypt "$p.asc" >"$p.dec" 2>>"$p.err"
		;;
	esac
	[ "$got" = "$keys" ] ||
		bad "($tag): $got recipient keys in the message, not $keys"
	if cmp -s "$p.dec" "$p.entity"; then
		say "($tag): $got recipient keys; decrypted: byte-exact original entity"
		DECRYPTED="$DECRYPTED $tag"
	else
		bad "($tag): decryption did not give back the original entity"
		head -n 3 "$p.err" >&2
	fi
	rm -f "$p.der" "$p.asc" "$p.dec"
}

# octets SIZE: a body size (octets, or with k or M) in octets.
octets() {
	awk -v s="$1" 'BEGIN {
		n = s + 0; u = substr(s, length(s))
		if (u == "k" || u == "K") n *= 1024
		else if (u == "m" || u == "M") n *= 1048576
		printf "%d\n", n
	}'
}

# text_part SIZE: a text/plain entity, its body SIZE octets of CRLF
# lines of text (as milter-load's own bodies; the last line shorter).
text_part() {
	printf 'Content-Type: text/plain; charset=us-ascii\r\n\r\n'
	awk -v n="$(octets "$1")" 'BEGIN {
		w = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, "
		w = w "sed do eiusmod tempor incididunt ut labore et dolore magna "
		w = w "aliqua. Ut enim ad minim veniam, quis nostrud exercitation "
		k = 0
		for (i = 0; n >= 3; i++) {
			l = (n >= 74) ? 72 : n - 2
			t = sprintf("%06d ", i % 1000000)
			while (length(t) < l) {
				p = substr(w, k + 1, l - length(t))
				t = t p
				k = (k + length(p)) % length(w)
			}
			printf "%s\r\n", substr(t, 1, l)
			n -= l + 2
		}
	}'
}

# signed_message KIND SIZE FILE: FILE, a message from the signer of KIND
# (vsmime: frank, SMIMEA 3 1 1; vpgp: bob, OPENPGPKEY) to $LOCAL whose
# body is a multipart/signed (RFC 8551 section 3.5, RFC 3156 section 5)
# over text_part SIZE, signed now over its octets as they are, as
# tests/e2e/verify.t signs: openssl cms -sign (detached, DER, SHA-256,
# the signer's certificate in it), gpg --detach-sign (armored).
signed_message() {
	local kind=$1 f=$3 b="=-bench-signed-$1" s
	text_part "$2" >"$f.part"
	case $kind in
	vsmime)
		openssl cms -sign -binary -md sha256 -in "$f.part" \
			-signer "$BED_DIR/certs/frank.pem" \
			-inkey "$BED_DIR/certs/frank.key" -outform DER \
			-out "$f.sig" 2>"$f.err" ||
			fail "openssl cms -sign failed: $(head -n 3 "$f.err")"
		;;
	vpgp)
		gpg --batch --no-tty --pinentry-mode loopback --passphrase '' \
			-u "$(cat "$BED_DIR/keys/bob.fpr")!" --armor \
			--detach-sign -o "$f.sig" "$f.part" 2>"$f.err" ||
			fail "gpg --detach-sign failed: $(head -n 3 "$f.err")"
		;;
	esac
	s=S_$kind
	{
		printf 'From: %s\r\nTo: <%s>\r\n' "${!s}" "$LOCAL"
		printf 'Subject: milter benchmark message, signed\r\n'
		printf 'Date: %s\r\nMIME-Version: 1.0\r\n' "$(date -R)"
		# tests/lib/sign.sh's entity, as verify.t sends it.
		signed_entity "${kind#v}" "$b" "$f"
	} >"$f"
	rm -f "$f.part" "$f.sig" "$f.err"
}

# ---------------------------------------------------------------- setup

bench_setup smilla-mbench
LOAD0=$(loadavg)

# The recipients of each kind of run, by number of recipients.  The bed
# publishes rcpt01..rcpt10 (SMIMEA) and pgp01..pgp10 (OPENPGPKEY).
if [ -z "${BENCH_RCPTS:-}" ] || [ -z "${BENCH_PGP_RCPTS:-}" ]; then
	fail "the test bed has no BENCH_RCPTS or BENCH_PGP_RCPTS"
fi
ALICE=alice@smilla.test
BOB=$PGP_BOB
NOBODY=nobody@smilla.test
SMIME10=$(echo "$BENCH_RCPTS" | tr -s ' ' ',')
PGP10=$(echo "$BENCH_PGP_RCPTS" | tr -s ' ' ',')
# The verification runs: mail to LOCAL (local_domains below), signed
# by S_KIND, whose Authentication-Results method is M_KIND; the same
# message goes to the null milter in nullKIND.
LOCAL=user@mx.smilla.test
[ -n "${SIGNER_FRANK:-}" ] || fail "the test bed has no SIGNER_FRANK"
# shellcheck disable=SC2034 # read through ${!r}, ${!s} and ${!m}
{
	R_null1=$NOBODY R_null10=$SMIME10 R_pass1=$NOBODY
	R_smime1=$ALICE R_smime10=$SMIME10 R_pgp1=$BOB R_pgp10=$PGP10
	R_nullvsmime1=$LOCAL R_vsmime1=$LOCAL R_nullvpgp1=$LOCAL R_vpgp1=$LOCAL
	S_vsmime="Frank <$SIGNER_FRANK>" S_vpgp="Bob <$PGP_BOB>"
	E_vsmime=$SIGNER_FRANK E_vpgp=$PGP_BOB
	M_vsmime=smime M_vpgp=x-pgp
}

# gpg for the decryption checks: bob's and the ten bench keys.
export GNUPGHOME=$WORK/gnupg
mkdir -m 700 "$GNUPGHOME"
gpg --batch --import "$BED_DIR/keys/bob-secret.pgp" \
	"$BED_DIR/keys/bench-secret.pgp" >"$WORK/gpg-import.log" 2>&1 ||
	fail "gpg cannot import the bed's secret keys"
# shellcheck disable=SC2317 # called by cleanup (lib.sh)
bench_cleanup() {
	gpgconf --kill all >/dev/null 2>&1
}

# One signed message of each kind and size, $WORK/KIND-SIZE.eml.
say "signing the messages: S/MIME by $SIGNER_FRANK, PGP/MIME by $PGP_BOB"
for body in $BODIES; do
	for kind in vsmime vpgp; do
		signed_message "$kind" "$body" "$WORK/$kind-$(tagof "$body").eml"
	done
done

smilla_conf "max_message_size = 67108864" "local_domains = mx.smilla.test"

start_daemon null-milter "$WORK/null.sock" "$WORK/null.log" \
	"$NM" -p "unix:$WORK/null.sock"
NULL_PID=$DPID
start_daemon smilla "$WORK/smilla.sock" "$WORK/smilla.log" \
	"$SM" -f -c "$WORK/smilla.conf"
SM_PID=$DPID

# ---------------------------------------------------------------- checks

# Warm-up: one message to everyone the runs use, so that each lookup is
# made once and cached (no format covers them all: it passes as
# plaintext).  Then one message of each size, format and number of
# recipients, saved and decrypted.
say "warm-up: one message to $NOBODY, $ALICE, $BOB and the twenty ..."
load warm "$SM_PID" -u "$WORK/smilla.sock" -n 1 -b 10k \
	-r "$NOBODY,$ALICE,$BOB,$SMIME10,$PGP10"
expect warm plain
for body in $BODIES; do
	for kind in smime pgp; do
		for n in 1 10; do
			tag=dec_${kind}${n}_$(tagof "$body")
			r=R_$kind$n
			load "$tag" "$SM_PID" -u "$WORK/smilla.sock" -n 1 -b "$body" \
				-r "${!r}" -o "$WORK/$tag"
			expect "$tag" enc
			decrypt_check "$tag" "$WORK/$tag" "$kind" "$n"
		done
	done
done
X_SMIME=$(sed -n 's/^add X-Smilla: *//p' "$WORK/dec_smime10_$(tagof "${BODIES%% *}").mods")
X_PGP=$(sed -n 's/^add X-Smilla: *//p' "$WORK/dec_pgp10_$(tagof "${BODIES%% *}").mods")

# sig_args KIND BODY: milter-load's arguments (SIG_ARGS) for the signed
# message of KIND (vsmime, vpgp, or their null runs) and BODY: the
# message, its envelope sender and recipient, the method to count.
sig_args() {
	local k=${1#null} e m
	e=E_$k m=M_$k
	SIG_ARGS=(-m "$WORK/$k-$(tagof "$2").eml" -f "${!e}" -r "$LOCAL" -A "${!m}")
}

# One signed message of each size and kind verified (the first lookup
# of the signer's records, cached from then on); the
# Authentication-Results of the first size go into the report.
for body in $BODIES; do
	for kind in vsmime vpgp; do
		tag=chk_${kind}_$(tagof "$body")
		sig_args "$kind" "$body"
		load "$tag" "$SM_PID" -u "$WORK/smilla.sock" -n 1 "${SIG_ARGS[@]}" \
			-o "$WORK/$tag"
		expect "$tag" verify
	done
done
AR_SMIME=$(sed -n 's/^ins Authentication-Results: *//p' "$WORK/chk_vsmime_$(tagof "${BODIES%% *}").mods")
AR_PGP=$(sed -n 's/^ins Authentication-Results: *//p' "$WORK/chk_vpgp_$(tagof "${BODIES%% *}").mods")

# ---------------------------------------------------------------- big

# One big message each, before the rounds; smilla's peak is reset first,
# so each figure is that message's own.
# shellcheck disable=SC2034 # read through ${!rss} and ${!hwm}
RSS_smime="" HWM_smime="" RSS_pgp="" HWM_pgp=""
if [ "$BIG" != 0 ]; then
	say "null-milter: one $BIG message ..."
	load big_null "$NULL_PID" -u "$WORK/null.sock" -n 1 -b "$BIG" -r "$ALICE"
	expect big_null pass
	for kind in smime pgp; do
		r=R_${kind}1
		say "smilla: one $BIG message to ${!r} ..."
		hwm_reset "$SM_PID"
		printf -v "RSS_$kind" '%s' "$(rss_kb "$SM_PID")"
		load "big_$kind" "$SM_PID" -u "$WORK/smilla.sock" -n 1 -b "$BIG" \
			-r "${!r}" -o "$WORK/big_$kind"
		printf -v "HWM_$kind" '%s' "$(hwm_kb "$SM_PID")"
		expect "big_$kind" enc
		decrypt_check "big_$kind" "$WORK/big_$kind" "$kind" 1
		rm -f "$WORK/big_$kind".*
	done
fi

# ---------------------------------------------------------------- rounds

# turn KIND N BODY ROUND: one measured run, tag KIND+N_BODY_ROUND.
turn() {
	local kind=$1 n=$2 body=$3 round=$4 tag r pid sock label
	tag=${kind}${n}_$(tagof "$body")_$round
	r=R_$kind$n
	case $kind in
	null) pid=$NULL_PID sock=null label="null-milter" ;;
	pass) pid=$SM_PID sock=smilla label="smilla, pass-through" ;;
	smime) pid=$SM_PID sock=smilla label="smilla, S/MIME" ;;
	pgp) pid=$SM_PID sock=smilla label="smilla, PGP/MIME" ;;
	nullvsmime) pid=$NULL_PID sock=null label="null-milter, S/MIME-signed" ;;
	nullvpgp) pid=$NULL_PID sock=null label="null-milter, PGP/MIME-signed" ;;
	vsmime) pid=$SM_PID sock=smilla label="smilla, verify S/MIME" ;;
	vpgp) pid=$SM_PID sock=smilla label="smilla, verify PGP/MIME" ;;
	esac
	case $kind in
	nullv*|v*)
		sig_args "$kind" "$body"
		run "$tag" "round $round: $label, $body, $n rcpt" "$pid" \
			-u "$WORK/$sock.sock" "${SIG_ARGS[@]}"
		;;
	*)
		run "$tag" "round $round: $label, $body, $n rcpt" "$pid" \
			-u "$WORK/$sock.sock" -b "$body" -r "${!r}"
		;;
	esac
	case $kind in
	null*) expect "$tag" pass ;;
	pass) expect "$tag" plain ;;
	v*) expect "$tag" verify ;;
	*) expect "$tag" enc ;;
	esac
}

CELLS=""	# "KIND N BODY" of every run, in order
for body in $BODIES; do
	for n in 1 10; do
		for kind in null pass smime pgp; do
			[ "$kind" = pass ] && [ "$n" != 1 ] && continue
			CELLS="$CELLS$kind $n $body
"
		done
	done
	for kind in nullvsmime vsmime nullvpgp vpgp; do
		CELLS="$CELLS$kind 1 $body
"
	done
done
for round in $(seq 1 "$ROUNDS"); do
	while read -r kind n body; do
		[ -n "$kind" ] && turn "$kind" "$n" "$body" "$round"
	done <<-EOF
	$CELLS
	EOF
done

kill -0 "$SM_PID" 2>/dev/null || bad "smilla is gone (see its log)"
HWM_END=$(hwm_kb "$SM_PID")
stop_daemon "$SM_PID"
stop_daemon "$NULL_PID"
LOAD1=$(loadavg)

# ---------------------------------------------------------------- report

# cell_fig KIND N BODY FIELD: FIELD of every round's result, one a line.
cell_fig() {
	local round v
	for round in $(seq 1 "$ROUNDS"); do
		v=RES_$1$2_$(tagof "$3")_$round
		field "${!v:-}" "$4"
	done
}

# cell_failed KIND N BODY: did a round of the cell fail a check?
cell_failed() {
	local round
	for round in $(seq 1 "$ROUNDS"); do
		case $FAILED in
		*" $1$2_$(tagof "$3")_$round "*) return 0 ;;
		esac
	done
	return 1
}

# The null milter's run that KIND is measured against (a null run: itself).
base_of() {
	case $1 in
	vsmime | vpgp) echo "null$1" ;;
	null*) echo "$1" ;;
	*) echo null ;;
	esac
}

# cell_ratios KIND N BODY: each round's msgs/s against the null milter's
# (base_of) in the same round.
cell_ratios() {
	local round v b
	for round in $(seq 1 "$ROUNDS"); do
		v=RES_$1$2_$(tagof "$3")_$round
		b=RES_$(base_of "$1")$2_$(tagof "$3")_$round
		awk -v m="$(field "${!v:-}" mps)" -v b="$(field "${!b:-}" mps)" \
			'BEGIN { printf "%.2f\n", (b > 0) ? m / b : 0 }'
	done
}

T1=$(date +%s.%N)
{
	echo
	echo "smilla milter benchmark: $CONNS connections, $ROUNDS rounds of" \
	     "${SECS}s runs after ${WARM}s warm-up, unix sockets"
	echo "host: $(nproc) CPUs, $(uname -sr); load average $LOAD0 at the start, $LOAD1 at the end"
	echo
	printf '%-5s %5s %-22s %8s %6s %-17s %7s %7s %6s\n' \
		body rcpts run msgs/s ratio rounds p99_ms cpu_ms errors
	while read -r kind n body; do
		[ -n "$kind" ] || continue
		case $kind in
		null) label="null-milter" ;;
		pass) label="smilla pass-through" ;;
		smime) label="smilla S/MIME" ;;
		pgp) label="smilla PGP/MIME" ;;
		nullvsmime) label="null, S/MIME-signed" ;;
		nullvpgp) label="null, PGP/MIME-signed" ;;
		vsmime) label="smilla verify S/MIME" ;;
		vpgp) label="smilla verify PGP/MIME" ;;
		esac
		if cell_failed "$kind" "$n" "$body"; then
			printf '%-5s %5d %-22s %s\n' "$body" "$n" "$label" \
				"CHECK FAILED: no figures (see below)"
			continue
		fi
		# shellcheck disable=SC2046,SC2086 # one number a word
		{
			mps=$(median $(cell_fig "$kind" "$n" "$body" mps))
			p99=$(median $(cell_fig "$kind" "$n" "$body" p99_us))
			cpu=$(median $(cell_fig "$kind" "$n" "$body" server_cpu_ms))
			ratios=$(cell_ratios "$kind" "$n" "$body" | paste -sd ' ')
			ratio=$(median $ratios)
			errs=$(($(cell_fig "$kind" "$n" "$body" errors | paste -sd +) +
				$(cell_fig "$kind" "$n" "$body" tempfail | paste -sd +)))
		}
		awk -v b="$body" -v n="$n" -v l="$label" -v m="$mps" -v r="$ratio" \
		    -v rs="$ratios" -v p="$p99" -v c="$cpu" -v e="$errs" 'BEGIN {
			printf "%-5s %5d %-22s %8.0f %6.2f %-17s %7.2f %7.3f %6d\n",
				b, n, l, m, r, rs, p / 1000, c, e
		}'
	done <<-EOF
	$CELLS
	EOF
	echo
	echo "msgs/s, p99_ms, cpu_ms: medians over the rounds; ratio: the median of"
	echo "the rounds' ratios (listed) of msgs/s against the null milter with the"
	echo "same message and recipients, run just before in the same round."
	echo "cpu_ms: CPU time of the milter process (user + system, all threads) per"
	echo "message, warm-up included: for S/MIME and PGP/MIME, the CPU per"
	echo "encrypted message; for verify, the CPU per verified message."
	echo "verify: to $LOCAL (local_domains); the signed text/plain part"
	echo "has the body size, the whole body of the signed message is:"
	for body in $BODIES; do
		a=RES_chk_vsmime_$(tagof "$body") b=RES_chk_vpgp_$(tagof "$body")
		echo "  $body: S/MIME $(field "${!a:-}" body), PGP/MIME $(field "${!b:-}" body) octets"
	done
	echo
	if [ "$BIG" != 0 ]; then
		echo "one $BIG message: null-milter $(max_ms "${RES_big_null:-}") ms;"
		for kind in smime pgp; do
			v=RES_big_$kind rss=RSS_$kind hwm=HWM_$kind
			r=R_${kind}1
			echo "  smilla $kind to ${!r}: $(max_ms "${!v:-}") ms," \
			     "$(field "${!v:-}" server_cpu_ms) ms CPU;" \
			     "VmRSS ${!rss:-?} kB before, VmHWM ${!hwm:-?} kB after" \
			     "(+$(( ${!hwm:-0} - ${!rss:-0} )) kB)"
		done
	fi
	echo "smilla VmHWM after all runs: $HWM_END kB"
	echo "status headers: X-Smilla: $X_SMIME"
	echo "                X-Smilla: $X_PGP"
	echo "verified: Authentication-Results: $AR_SMIME"
	echo "          Authentication-Results: $AR_PGP"
	echo "decrypted and compared byte for byte:${DECRYPTED:- none}"
	report_tail smilla "$WORK/smilla.log"
}
exit "$RC"
