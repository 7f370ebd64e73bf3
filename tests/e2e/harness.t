#!/bin/bash
# Self-test of the e2e harness (tests/e2e/postfix.sh) with the stand-in
# policy server tests/e2e/fake-policy.pl instead of smilla-policyd:
#
#   1. DNSSEC bed up (tests/bed/bed.sh), fake-policy.pl on WORK/pf/policy.sock,
#      Postfix with POLICY=unix:WORK/pf/policy.sock
#   2. mail with the bed's good client certificate, HELO good.smilla.test:
#      X-Fake-Policy carries helo=good.smilla.test and fp = SHA-256 of the
#      certificate's SPKI in colon form (bed.env GOOD_SPKI_SHA256_COLON)
#   3. mail over STARTTLS without a client certificate: fp= empty
#   4. a self-signed client certificate, two recipients
#   5. policy server down: default_action=DUNNO lets the mail through
#   6. Postfix restarted with POLICY=spawn:/usr/bin/perl fake-policy.pl --stdin
#   7. everything stopped; ps shows nothing left
#
# Part of make check: it is the one test of what a real Postfix sends a
# policy server (attributes per stage, fingerprint form, spawn(8) user),
# which the golden requests (tests/policy/golden/*.in) imitate.
#
# usage: tests/e2e/harness.t [WORKDIR]
# Needs root.  WORKDIR defaults to a fresh /tmp/smilla-e2e.XXXXXX (mode
# 755: the postfix user must traverse it); it is removed on success unless
# KEEP=1, kept on failure.  Output is TAP; exit status 0 = all ok.
# shellcheck disable=SC2034 # R, D, M4: read by checks run through eval
set -eu
umask 022

HERE=$(cd "$(dirname "$0")" && pwd -P)
ROOT=$(cd "$HERE/../.." && pwd -P)
PF_SH=$HERE/postfix.sh
BED_SH=$ROOT/tests/bed/bed.sh

if [ $# -ge 1 ]; then
	WORK=$1
	mkdir -p "$WORK"
	WORK=$(cd "$WORK" && pwd -P)
else
	WORK=$(mktemp -d /tmp/smilla-e2e.XXXXXX)
fi
chmod 755 "$WORK"
BED=$WORK/bed
PF=$WORK/pf
mkdir -p "$PF"
# spawn(8) runs the stand-in as nobody, who may not traverse the
# checkout (a clone below a 0700 home): it runs from the work dir.
cp "$HERE/fake-policy.pl" "$WORK/fake-policy.pl"
chmod 755 "$WORK/fake-policy.pl"
FAKE=$WORK/fake-policy.pl

# ok, check, done_testing
. "$HERE/../lib/tap.sh"
TIMES=$WORK/times
: >"$TIMES"
FP_PID=""

# timed LABEL COMMAND...: run, record the wall time (in a file: timed often
# runs in a subshell, in a pipeline or $(...)), keep the exit status.
timed() {
	local label=$1 t0 rc=0
	shift
	t0=$EPOCHREALTIME
	"$@" || rc=$?
	awk -v l="$label" -v a="$t0" -v b="$EPOCHREALTIME" \
		'BEGIN { printf "%-34s %6.2f s\n", l, b - a }' >>"$TIMES"
	return $rc
}
show() { sed 's/^/    /'; }

stop_fake() {
	[ -n "$FP_PID" ] || return 0
	kill -TERM "$FP_PID" 2>/dev/null || true
	for _ in $(seq 1 50); do
		[ -e "/proc/$FP_PID" ] || break
		# a zombie child of ours: reap it
		grep -q '^State:.*Z' "/proc/$FP_PID/status" 2>/dev/null && { wait "$FP_PID" 2>/dev/null || true; }
		sleep 0.1
	done
	FP_PID=""
}

cleanup() {
	local rc=$?
	trap - EXIT
	"$PF_SH" stop "$PF" >/dev/null 2>&1 || true
	stop_fake
	"$BED_SH" stop "$BED" >/dev/null 2>&1 || true
	if [ "$rc" -ne 0 ] || [ "$tap_fail" -ne 0 ]; then
		echo "# FAILED ($tap_fail of $tap_n checks, exit $rc); work dir kept: $WORK"
		[ "$rc" -ne 0 ] || rc=1
	elif [ "${KEEP:-0}" = 1 ]; then
		echo "# all $tap_n checks ok; work dir kept: $WORK"
	else
		rm -rf "$WORK"
		echo "# all $tap_n checks ok"
	fi
	echo "1..$tap_n"
	exit "$rc"
}
trap cleanup EXIT

# colon form of SHA-256 over a certificate's SubjectPublicKeyInfo, computed
# here independently of the bed.
spki_colon() {
	openssl x509 -in "$1" -noout -pubkey | openssl pkey -pubin -outform DER |
		openssl dgst -sha256 -binary | od -An -v -tx1 | tr -d ' \n' |
		tr a-f A-F | sed 's/../&:/g; s/:$//'
}

# The NTH request in policy log FILE at STATE whose helo_name is HELO (the
# log is a series of paragraphs).
req_block() { # FILE STATE HELO [NTH]
	awk -v st="$2" -v h="$3" -v nth="${4:-1}" '
		BEGIN { RS = ""; ORS = "\n\n" }
		$0 ~ ("^# pid .* state " st "\n") && index($0, "\nhelo_name=" h "\n") {
			if (++n == nth) { print; exit }
		}' "$1"
}
# Value of attribute NAME in a request block on stdin.
attr() { sed -n "s/^$1=//p"; }

wait_unix_listen() { # PATH SECONDS
	for _ in $(seq 1 $(($2 * 10))); do
		ss -Hlx 2>/dev/null | awk '{print $5}' | grep -qxF "$1" && return 0
		sleep 0.1
	done
	return 1
}

echo "# work dir $WORK"

# ------------------------------------------------------------------ bed
timed "bed.sh start" "$BED_SH" start "$BED" | show
# shellcheck disable=SC1091
. "$BED/bed.env"
export BED_DIR
GOOD_COLON=$(spki_colon "$BED_DIR/certs/good.pem")
SELF_COLON=$(spki_colon "$BED_DIR/certs/self.pem")
check "bed.env GOOD_SPKI_SHA256_COLON equals our own SPKI digest of good.pem" \
	[ "$GOOD_COLON" = "$GOOD_SPKI_SHA256_COLON" ]

# ------------------------------------------------------------------ unix socket policy
setsid perl "$FAKE" --log "$PF/policy.log" --pidfile "$PF/policy.pid" "$PF/policy.sock" \
	</dev/null >>"$PF/policy.stderr" 2>&1 &
FP_PID=$!
check "fake-policy.pl listens on $PF/policy.sock" wait_unix_listen "$PF/policy.sock" 5
# setsid may have forked: the pid file has the server's own pid.
FP_PID=$(cat "$PF/policy.pid")

timed "postfix.sh start (unix policy)" "$PF_SH" start "$PF" "unix:$PF/policy.sock" | show
# shellcheck disable=SC1091
. "$PF/postfix.env"
check "postfix.env written, smtpd listening on 127.0.0.1:$PF_PORT" \
	sh -c "ss -Hltn | awk '{print \$4}' | grep -qx '127.0.0.1:$PF_PORT'"

echo "# --- message 1: good client certificate, HELO good.smilla.test"
timed "send (good cert)" "$PF_SH" send "$PF" \
	--tls-cert "$BED_DIR/certs/good.pem" --tls-key "$BED_DIR/certs/good.key" \
	--ehlo good.smilla.test >"$WORK/send1.out" 2>&1 && rc=0 || rc=$?
check "swaks exit 0 (good cert)" [ "$rc" -eq 0 ]
grep -E '^(=== TLS|<~  250 2\.0\.0)' "$WORK/send1.out" | show
M1=$(timed "wait-mail 1" "$PF_SH" wait-mail "$PF" 1) || true
check "message 1 delivered ($M1)" [ -s "$M1" ]
grep -E '^X-Fake-Policy:' "$M1" | show
sed -n '/^Received:/,/^[^[:space:]]/p' "$M1" | sed '$d' | show
want="X-Fake-Policy: helo=good.smilla.test fp=$GOOD_SPKI_SHA256_COLON"
check "X-Fake-Policy has helo=good.smilla.test and fp = SPKI SHA-256 of good.pem" \
	grep -qxF "$want" "$M1"
check "two X-Fake-Policy headers (RCPT and DATA stage)" \
	[ "$(grep -cxF "$want" "$M1")" -eq 2 ]
check "Received: shows the trusted client certificate" \
	grep -qF '(Client CN "good.smilla.test", Issuer "Smilla Test CA" (verified OK))' "$M1"

echo "# --- message 2: STARTTLS without client certificate"
timed "send (no cert)" "$PF_SH" send "$PF" --ehlo nocert.smilla.test \
	>"$WORK/send2.out" 2>&1 && rc=0 || rc=$?
check "swaks exit 0 (no cert)" [ "$rc" -eq 0 ]
M2=$(timed "wait-mail 2" "$PF_SH" wait-mail "$PF" 2) || true
check "message 2 delivered" eval '[ -s "$M2" ] && [ "$M2" != "$M1" ]'
grep -E '^X-Fake-Policy:' "$M2" | show
check "X-Fake-Policy: helo=nocert.smilla.test fp= (empty)" \
	grep -qx 'X-Fake-Policy: helo=nocert.smilla.test fp=' "$M2"

echo "# --- message 3: self-signed (untrusted) client certificate, two recipients"
"$PF_SH" send "$PF" --tls-cert "$BED_DIR/certs/self.pem" --tls-key "$BED_DIR/certs/self.key" \
	--ehlo self.smilla.test --to a@mx.smilla.test,b@mx.smilla.test >"$WORK/send3.out" 2>&1 && rc=0 || rc=$?
check "swaks exit 0 (self-signed cert)" [ "$rc" -eq 0 ]
M3=$("$PF_SH" wait-mail "$PF" 3) || true
check "message 3 delivered" [ -s "$M3" ]
check "untrusted cert still gives fp (3 headers: RCPT, RCPT, DATA)" \
	[ "$(grep -cxF "X-Fake-Policy: helo=self.smilla.test fp=$SELF_COLON" "$M3")" -eq 3 ]
R=$(req_block "$PF/policy.log" RCPT self.smilla.test)
check "untrusted cert: ccert_subject empty, ccert_fingerprint set" \
	eval '[ -z "$(echo "$R" | attr ccert_subject)" ] && [ -n "$(echo "$R" | attr ccert_fingerprint)" ]'
D=$(req_block "$PF/policy.log" DATA self.smilla.test)
check "DATA stage with two recipients: recipient= empty, recipient_count=2" \
	eval '[ -n "$D" ] && [ -z "$(echo "$D" | attr recipient)" ] && [ "$(echo "$D" | attr recipient_count)" = 2 ]'
check "RCPT stage: recipient_count=0 even for the second recipient" \
	[ "$(req_block "$PF/policy.log" RCPT self.smilla.test 2 | attr recipient_count)" = 0 ]

echo "# --- policy requests as logged by fake-policy.pl (message 1)"
echo "#     RCPT stage:"
req_block "$PF/policy.log" RCPT good.smilla.test | show
echo "#     DATA stage:"
req_block "$PF/policy.log" DATA good.smilla.test | show
conns=$(grep '^# pid ' "$PF/policy.log" | awk '{print $3 "/" $5}' | sort -u | wc -l)
echo "#     $(grep -c '^# pid ' "$PF/policy.log") requests over $conns policy connection(s)"

echo "# --- message 4: policy server down (default_action=DUNNO)"
stop_fake
check "fake-policy.pl removed its socket on SIGTERM" [ ! -e "$PF/policy.sock" ]
timed "send (policy down)" "$PF_SH" send "$PF" --ehlo down.smilla.test \
	>"$WORK/send4.out" 2>&1 && rc=0 || rc=$?
check "swaks exit 0 with the policy server down" [ "$rc" -eq 0 ]
M4=$("$PF_SH" wait-mail "$PF" 4) || true
check "message 4 delivered, without X-Fake-Policy" eval '[ -s "$M4" ] && ! grep -q "^X-Fake-Policy:" "$M4"'
grep -E 'warning: .*(policy|connect to)' "$PF_LOG" | sed 's/^.*postfix\///' | sort -u | head -n 4 | show

timed "postfix.sh stop (unix policy)" "$PF_SH" stop "$PF" | show

# ------------------------------------------------------------------ spawn(8) policy
echo "# --- message 5: policy server run by spawn(8) as nobody"
: >"$PF/spawn.log"
chmod 666 "$PF/spawn.log"    # written by the spawned process (user nobody)
timed "postfix.sh start (spawn policy)" "$PF_SH" start "$PF" \
	"spawn:/usr/bin/perl $FAKE --stdin --log $PF/spawn.log" | show
grep -A1 '^smillapol' "$PF_CONF/master.cf" | show
timed "send (good cert, spawn)" "$PF_SH" send "$PF" \
	--tls-cert "$BED_DIR/certs/good.pem" --tls-key "$BED_DIR/certs/good.key" \
	--ehlo good.smilla.test >"$WORK/send5.out" 2>&1 && rc=0 || rc=$?
check "swaks exit 0 (spawn)" [ "$rc" -eq 0 ]
M5=$(timed "wait-mail 1 (spawn)" "$PF_SH" wait-mail "$PF" 1) || true
check "message 5 delivered" [ -s "$M5" ]
grep -E '^X-Fake-Policy:' "$M5" | show
check "spawn: X-Fake-Policy helo=good.smilla.test fp = SPKI SHA-256 of good.pem (x2)" \
	[ "$(grep -cxF "$want" "$M5")" -eq 2 ]
echo "#     processes while the instance runs (spawned policy server under spawn(8)):"
ps -ww -eo pid,ppid,sid,user,args | awk -v w="fake-policy.pl --stdin" 'NR == 1 || index($0, w)' | grep -v awk | show
check "spawned policy server runs as nobody" \
	sh -c "ps -ww -eo user=,args= | grep -F 'fake-policy.pl --stdin' | grep -v grep | grep -q '^nobody '"
check "spawn.log has the RCPT and DATA requests" \
	sh -c "grep -q 'state RCPT\$' '$PF/spawn.log' && grep -q 'state DATA\$' '$PF/spawn.log'"
timed "postfix.sh stop (spawn policy)" "$PF_SH" stop "$PF" | show

# ------------------------------------------------------------------ all gone
timed "bed.sh stop" "$BED_SH" stop "$BED"
left=$(ps -ww -eo pid,user,stat,args | grep -F "$WORK" | grep -v grep || true)
envleft=$(perl -e 'my $w = shift; for my $p (grep { /^\d+$/ } do { opendir my $d, "/proc"; readdir $d }) {
	open my $e, "<", "/proc/$p/environ" or next; local $/; my $x = <$e> // next;
	print "$p\n" if $x =~ /MAIL_CONFIG=\Q$w\E/ }' "$WORK")
echo "# ps -ww -eo pid,user,stat,args | grep -F $WORK:"
echo "${left:-(nothing)}" | show
check "no process mentions $WORK" [ -z "$left" ]
check "no process has MAIL_CONFIG under $WORK" [ -z "$envleft" ]
check "no listener left on 127.0.0.1:$PF_PORT" \
	sh -c "! ss -Hltn | awk '{print \$4}' | grep -qx '127.0.0.1:$PF_PORT'"

echo "# timings:"
show <"$TIMES"
