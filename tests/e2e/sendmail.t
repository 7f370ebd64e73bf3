#!/bin/bash
# smilla (the milter) end to end under Sendmail (issue 13): a real
# Sendmail 8.17 (Debian's packages, private, tests/lib/sendmail.sh) with
# the sendmail.cf built from contrib/sendmail/smilla.mc calls one smilla
# milter, swaks sends over STARTTLS, the DNSSEC test bed publishes the
# SMIMEA and OPENPGPKEY records, and Sendmail relays to a Postfix
# without milters that delivers into its Maildir, where the mail is read
# back: decrypted with openssl and gpg, the status header, the codes at
# RCPT, the Authentication-Results of signed mail as verify.t has them
# through Postfix, and F=T with the milter down.
#
#   milter A: local_domains = mx.smilla.test, so *@smilla.test is
#             outbound and encrypted, and user@mx.smilla.test inbound
#             (encrypt_inbound = no: signatures checked, not encrypted);
#             milter_client_auth = yes: DANE client authentication from
#             Sendmail's {cert_fp}, cert.smilla.test and
#             host.bogus.smilla.test in its require_table; restarted
#             with mixed_recipients = defer (section 8), then split
#             (section 9: the copies go to Sendmail's second listener,
#             which runs no milter, smilla.mc's SMILLA_REINJECT_PORT)
set -eu
export LC_ALL=C
. "$(dirname "$0")/../lib/tap.sh"
require_bed
. "$(dirname "$0")/../lib/mta.sh"
mta_setup sendmail tmp g sm
pf="$work/pf"
MILTERS="a"
declare -A mpid=()
SM_MILTER=a
SM_REINJECT=1
# For sign.sh: gpgsm is not used here; gpg's home with the signers' keys.
pg="$work/g/signers"
RCPT=user@mx.smilla.test
AUTHSERV=mx.smilla.test
. "$here/../lib/mail.sh"
. "$here/../lib/sign.sh"
. "$here/../lib/proc.sh"
. "$here/../lib/tls.sh"
. "$here/../lib/sendmail.sh"
MTA_SEND=sendmail_send

HOMES="bob signers"
cleanup() {
	sendmail_kill
	"$PF_SH" stop "$pf" >/dev/null 2>&1 || true
	milters_kill
	agents_kill
}
trap cleanup EXIT

# ------------------------------------------------------------------ milter, sink, Sendmail

cat >"$work/a-require.tbl" <<'TBL'
nokey-required.smilla.test
must@smilla.test
eve@bogus.smilla.test
carol@smilla.test
TBL
printf '%s\n' cert.smilla.test host.bogus.smilla.test >"$work/a-clients.tbl"
milter_conf a "local_domains = mx.smilla.test" "milter_client_auth = yes" \
	"require_table = $work/a-clients.tbl"
milters_start || { done_testing; exit 1; }

export PF_EXTRA_DOMAINS="smilla.test bogus.smilla.test nokey-required.smilla.test"
postfix_start sink || { done_testing; exit 1; }
sendmail_fetch || { done_testing; exit 1; }
sendmail_start || { done_testing; exit 1; }
cf="$work/sm/sendmail.cf"
is "$(grep '^Xsmilla' "$cf")" "Xsmilla, S=unix:$work/a.sock, F=T, T=S:4m;R:4m;E:10m" \
	"  sendmail.cf: smilla.mc's INPUT_MAIL_FILTER, the test's socket"
is "$(grep -c '^O InputMailFilters=smilla$' "$cf")" 1 "  sendmail.cf: O InputMailFilters=smilla"
is "$(grep -c '^O CertFingerprintAlgorithm=sha256$' "$cf")" 1 "  sendmail.cf: O CertFingerprintAlgorithm=sha256"
is "$(grep "^O DaemonPortOptions=Port=$SM_REINJECT_PORT," "$cf")" \
	"O DaemonPortOptions=Port=$SM_REINJECT_PORT, Addr=127.0.0.1, Name=smilla-reinject, InputMailFilters=" \
	"  sendmail.cf: smilla.mc's listener without milters (SMILLA_REINJECT_PORT)"

for h in $HOMES; do mkdir -m 700 "$work/g/$h"; done
gpg_in bob --import "$keys/bob-secret.pgp" >"$work/g/bob.log" 2>&1 && rc=0 || rc=$?
is "$rc" 0 "gpg home bob: key imported"
gpg_in signers --import "$keys/bob-secret.pgp" >"$work/g/signers.log" 2>&1 && rc=0 || rc=$?
is "$rc" 0 "gpg home signers: bob's key imported (to sign)"

total=0 # messages expected in the Maildir

# ------------------------------------------------------------------ 1. encrypted

msg alice alice@smilla.test <<'EOF'
MIME-Version: 1.0
X-Smilla: encrypted smime; forged by the sender
Content-Type: text/plain;
	charset="utf-8";
	format=flowed
Content-Transfer-Encoding: 7bit

Hello Alice,

this travels encrypted, through Sendmail.  Trailing blanks stay:   
	a tab-indented line
-- 
sender
EOF
entity alice
deliver alice alice@smilla.test 1 "alice (S/MIME) through Sendmail"
like "$out" '<~  250 2\.0\.0 [0-9A-Za-z]+ Message accepted for delivery' "  Sendmail's 250 with its queue id"
check "  delivered" [ -s "$m" ]
encrypted_ok "$m" 1 aes256-cbc
check "  From, To, Subject, Date, Message-ID kept" headers_kept "$m" alice
check "  openssl cms -decrypt (alice.key) gives the MIME entity byte-exact" \
	decrypts_to "$m" alice alice
log_is a alice ' rcpts=alice@smilla\.test:secure action=encrypted size=[0-9]+ ms=[0-9]+'
like "$(hdr "$m" Received | sed -n 2p)" "^from client\\.test .* by $SM_HOST \\(8\\.17[^)]*\\) with ESMTPS id $qid " \
	"  it came through Sendmail over STARTTLS (its Received)"

msg two "alice@smilla.test, carol@smilla.test" <<'EOF'
MIME-Version: 1.0
Content-Type: text/plain; charset=us-ascii

One message, two recipients, each with her own key.
EOF
entity two
deliver two alice@smilla.test,carol@smilla.test 2 "alice + carol"
is "$(printf '%s\n' "$ms" | grep -c .)" 2 "  two copies delivered"
encrypted_ok "$m" 2 aes256-cbc
check "  alice decrypts it" decrypts_to "$m" alice two
check "  carol decrypts it" decrypts_to "$m2" carol two
log_is a two ' rcpts=alice@smilla\.test:secure,carol@smilla\.test:secure action=encrypted '

eightbit_msg | msg eightbit alice@smilla.test
entity eightbit
deliver eightbit alice@smilla.test 1 "8-bit body"
encrypted_ok "$m" 1 aes256-cbc
check "  decrypts byte-exact (8-bit octets, dot lines, 900-octet line)" \
	decrypts_to "$m" alice eightbit

msg bob bob@smilla.test <<'EOF'
MIME-Version: 1.0
Content-Type: text/plain; charset=us-ascii

For Bob, as PGP/MIME.
EOF
entity bob
deliver bob bob@smilla.test 1 "bob (OpenPGP)"
pgp_ok "$m" 1
check "  gpg --decrypt (bob's key) gives the MIME entity byte-exact" gpg_decrypts_to "$m" bob bob
log_is a bob ' rcpts=bob@smilla\.test:secure action=encrypted '

# ------------------------------------------------------------------ 2. keyless, mixed

msg nokey nobody@smilla.test <<'EOF'
MIME-Version: 1.0
X-Smilla: encrypted smime; recipients=1; forged
Content-Type: text/plain; charset=us-ascii

Nobody publishes a key: this stays plain.
EOF
deliver nokey nobody@smilla.test 1 "recipient without a key"
plaintext_ok "$m" nokey no-key 1 0
log_is a nokey ' rcpts=nobody@smilla\.test:none action=plaintext reason="?no-key"? '

msg mixed "alice@smilla.test, nobody@smilla.test" <<'EOF'
MIME-Version: 1.0
Content-Type: text/plain; charset=us-ascii

One recipient with a key, one without, neither required.
EOF
deliver mixed alice@smilla.test,nobody@smilla.test 2 "alice + nobody (neither required)"
plaintext_ok "$m" mixed no-key 2 1
log_is a mixed ' rcpts=alice@smilla\.test:secure,nobody@smilla\.test:none action=plaintext reason="?no-key"? '

# ------------------------------------------------------------------ 3. required

msg req "whoever" <<'EOF'
Content-Type: text/plain

Must not be delivered.
EOF
rej() { # DESCRIPTION ADDRESS CODE
	send req "$2"
	like "$out" "<(\*\*|~\*) +${3//./\\.} .*encryption required for <${2//./\\.}>" "$1: $3 at RCPT"
	is "$qid" "" "  nothing queued"
}
rej "required domain without a key" nokey@nokey-required.smilla.test "550 5.7.1"
rej "required address without a key" must@smilla.test "550 5.7.1"
rej "required address in the bogus zone" eve@bogus.smilla.test "450 4.7.5"

msg sep "carol@smilla.test, nobody@smilla.test" <<'EOF'
MIME-Version: 1.0
Content-Type: text/plain; charset=us-ascii

Required and keyless recipients are not mixed in one transaction.
EOF
entity sep
send sep carol@smilla.test,nobody@smilla.test
like "$out" '<(\*\*|~\*) +452 4\.5\.3 .*nobody@smilla\.test' \
	"required carol + keyless nobody: nobody gets 452 4.5.3 (deliver separately)"
like "$out" '<~  250 2\.0\.0 [0-9A-Za-z]+ Message accepted for delivery' "  the message is accepted for carol"
total=$((total + 1))
m=$(delivered sep 1) || true
encrypted_ok "$m" 1 aes256-cbc
check "  carol decrypts it" decrypts_to "$m" carol sep

# ------------------------------------------------------------------ 4. verification

# One S/MIME and one PGP/MIME case of verify.t: the same
# Authentication-Results as through Postfix, the body as it was sent.
part alice-cms >"$work/msg/alice-cms.part"
check "openssl cms -sign (alice, detached)" cms_sign alice-cms alice
assemble alice-cms "Alice <alice@smilla.test>" smime
deliver alice-cms "$RCPT" 1 "S/MIME signed by alice (SMIMEA 3 0 0) to user@mx.smilla.test"
like "$(hdr "$m" Authentication-Results)" "^$(smime_pass alice alice@smilla.test)\$" \
	"  Authentication-Results: smime=pass, as through Postfix"
check "  body byte for byte as sent" unchanged "$m" alice-cms
like "$(logline a "$qid")" ' verify=smime:pass signer=alice@smilla\.test verify_reason="SMIMEA 3 0 0 matches the signer" ' \
	"  log: verify=smime:pass"

part bob-pgp >"$work/msg/bob-pgp.part"
check "gpg --detach-sign (bob)" gpg_sign bob-pgp bob
assemble bob-pgp "Bob <bob@smilla.test>" pgp
deliver bob-pgp "$RCPT" 1 "PGP/MIME signed by bob (OPENPGPKEY) to user@mx.smilla.test"
like "$(hdr "$m" Authentication-Results)" "^$(pgp_pass bob bob@smilla.test)\$" \
	"  Authentication-Results: x-pgp=pass, as through Postfix"
check "  body byte for byte as sent" unchanged "$m" bob-pgp
like "$(logline a "$qid")" " verify=pgp-mime:pass signer=bob@smilla\\.test " "  log: verify=pgp-mime:pass"

# ------------------------------------------------------------------ 5. a client certificate

msg ccert alice@smilla.test <<'EOF'
MIME-Version: 1.0
Content-Type: text/plain; charset=us-ascii

From a client that presents a certificate issued by the bed's CA.
EOF
entity ccert
deliver ccert alice@smilla.test 1 "a client with a certificate (good.smilla.test)" \
	--ehlo good.smilla.test --tls-cert "$certs/good.pem" --tls-key "$certs/good.key"
like "$(grep -F 'STARTTLS=server' "$work/sm/sendmail.log" | tail -n1)" ' verify=OK,' \
	"  Sendmail verified it (verify=OK in its log)"
encrypted_ok "$m" 1 aes256-cbc
check "  alice decrypts it" decrypts_to "$m" alice ccert

# ------------------------------------------------------------------ 6. the milter down

msg down alice@smilla.test <<'EOF'
MIME-Version: 1.0
Content-Type: text/plain; charset=us-ascii

Sent while smilla is down: it must wait, never pass in clear.
EOF
entity down
milter_stop a
send down alice@smilla.test
like "$out" '<\*\* +454 4\.7\.0 ' "milter down (F=T), a STARTTLS client: 454 4.7.0 to STARTTLS"
is "$qid" "" "  nothing accepted"
SM_TLS="" send down alice@smilla.test
like "$out" '<\*\* +451 4\.3\.2 ' "milter down (F=T), a plaintext client: 451 4.3.2 to MAIL FROM"
is "$qid" "" "  nothing accepted"
like "$(cat "$work/sm/sendmail.log")" 'Milter \(smilla\): error connecting to filter' \
	"  Sendmail's log: error connecting to filter"
is "$(sendmail_queued)" 0 "  nothing queued in Sendmail (the mail stays with the client)"
sleep 1
is "$(grep -rl '^Subject: milter-down' "$PF_MAILDIR/new" "$PF_MAILDIR/cur" 2>/dev/null | wc -l)" 0 \
	"  nothing delivered"
milter_start a || { done_testing; exit 1; }
deliver down alice@smilla.test 1 "the client's retry after the milter is back"
encrypted_ok "$m" 1 aes256-cbc
check "  alice decrypts it" decrypts_to "$m" alice down
log_is a down ' rcpts=alice@smilla\.test:secure action=encrypted '

# ------------------------------------------------------------------ 7. client authentication

# The milter decides as smilla-policyd would, from Sendmail's {cert_fp}
# (the SHA-256 of the whole certificate): the bed's good.pem is
# published as 3 0 1 at _smtp-client.cert, 3 0 0 at _smtp-client.full,
# and only as 3 1 1 at _smtp-client.good.
GOODCERT=(--tls-cert "$certs/good.pem" --tls-key "$certs/good.key")
ca_hdr() { hdr "$1" DANE-Client-Auth; }
ca_log() { grep -F " helo=$1 " "$work/a.log" | grep -F ' state=MAIL ' | tail -n1; }

msg capass alice@smilla.test <<'EOF'
MIME-Version: 1.0
DANE-Client-Auth: pass (identity=bank.example; record=3 0 1; authserv=MX.smilla.test)
DANE-Client-Auth: fail (identity=x.example; reason=forged too; authserv = mx.smilla.test )
DANE-Client-Auth: pass (identity=relay.example; record=3 1 1; authserv=other.example)
Content-Type: text/plain; charset=us-ascii

From a client whose certificate _smtp-client.cert publishes as 3 0 1.
EOF
entity capass
deliver capass alice@smilla.test 1 "client auth: HELO cert.smilla.test, its certificate (3 0 1)" \
	--ehlo cert.smilla.test "${GOODCERT[@]}"
is "$(ca_hdr "$m")" "pass (identity=cert.smilla.test; record=3 0 1; authserv=mx.smilla.test)
pass (identity=relay.example; record=3 1 1; authserv=other.example)" \
	"  DANE-Client-Auth: pass, ours on top; the two claiming our authserv removed, another host's kept"
encrypted_ok "$m" 1 aes256-cbc
check "  alice decrypts it" decrypts_to "$m" alice capass
like "$(ca_log cert.smilla.test)" "client=[^ ]*\\[127\\.0\\.0\\.1\\] helo=cert\\.smilla\\.test identity=cert\\.smilla\\.test result=pass record=\"3 0 1\" lookup=(dns|cache) time=[0-9.]+ms state=MAIL action=PREPEND DANE-Client-Auth: pass \\(identity=cert\\.smilla\\.test; record=3 0 1; authserv=mx\\.smilla\\.test\\)\$" \
	"  log: smilla-policyd's line (client, helo, identity, result, record, lookup, state, action)"

msg cafull alice@smilla.test <<'EOF'
Content-Type: text/plain; charset=us-ascii

3 0 0: the record holds the whole certificate, hashed to compare.
EOF
deliver cafull alice@smilla.test 1 "client auth: HELO full.smilla.test (3 0 0)" \
	--ehlo full.smilla.test "${GOODCERT[@]}"
is "$(ca_hdr "$m")" "pass (identity=full.smilla.test; record=3 0 0; authserv=mx.smilla.test)" \
	"  DANE-Client-Auth: pass, record 3 0 0"

msg caspki alice@smilla.test <<'EOF'
Content-Type: text/plain; charset=us-ascii

Only 3 1 1 published: Sendmail gives no public key fingerprint.
EOF
deliver caspki alice@smilla.test 1 "client auth: HELO good.smilla.test (3 1 1 only)" \
	--ehlo good.smilla.test "${GOODCERT[@]}"
is "$(ca_hdr "$m")" "unusable (identity=good.smilla.test; reason=no public key fingerprint; authserv=mx.smilla.test)" \
	"  DANE-Client-Auth: unusable (Sendmail gives no public key fingerprint)"
like "$(ca_log good.smilla.test)" ' result=unusable reason="no public key fingerprint" ' \
	"  log: result=unusable, the reason"

msg canocert alice@smilla.test <<'EOF'
Content-Type: text/plain; charset=us-ascii

STARTTLS without a certificate, a name nobody requires.
EOF
deliver canocert alice@smilla.test 1 "client auth: no certificate, HELO full.smilla.test (not required)" \
	--ehlo full.smilla.test
is "$(ca_hdr "$m")" "" "  no DANE-Client-Auth (action_nocert = DUNNO)"
like "$(ca_log full.smilla.test)" ' identity=full\.smilla\.test result=nocert reason="no client certificate" lookup=none .* action=DUNNO$' \
	"  log: result=nocert, nothing looked up"

msg careq alice@smilla.test <<'EOF'
Content-Type: text/plain

Must not be accepted.
EOF
carej() { # DESCRIPTION PATTERN [swaks args]
	local what=$1 want=$2
	shift 2
	send careq alice@smilla.test "$@"
	like "$(grep -v '^ *\(<~  250\|~>\|<-\|->\|===\)' "$work/out/careq.out")" "$want" "$what"
	is "$qid" "" "  nothing queued"
	is "$(grep -c 'RCPT TO' "$work/out/careq.out")" 0 "  refused at MAIL FROM: no RCPT sent"
}
carej "client auth: required cert.smilla.test, another certificate: 554 5.7.1 at MAIL FROM (Postfix's REJECT code)" \
	'<(\*\*|~\*) +554 5\.7\.1 (<[^>]*>\.\.\. )?DANE client authentication required for cert\.smilla\.test \(fail\)' \
	--ehlo cert.smilla.test --tls-cert "$certs/other.pem" --tls-key "$certs/other.key"
like "$(ca_log cert.smilla.test)" ' result=fail reason="no record matched" .* action=REJECT 5\.7\.1 ' \
	"  log: result=fail, the REJECT"
carej "client auth: required cert.smilla.test, no certificate: 554 5.7.1" \
	'<(\*\*|~\*) +554 5\.7\.1 (<[^>]*>\.\.\. )?DANE client authentication required for cert\.smilla\.test \(nocert\)' \
	--ehlo cert.smilla.test
carej "client auth: required host.bogus.smilla.test (bogus zone): 450 4.7.5" \
	'<(\*\*|~\*) +450 4\.7\.5 (<[^>]*>\.\.\. )?DANE client authentication of host\.bogus\.smilla\.test temporarily failed \(bogus\)' \
	--ehlo host.bogus.smilla.test "${GOODCERT[@]}"

# ------------------------------------------------------------------ 8. mixed_recipients = defer

# Milter A again, with defer: Sendmail passes the 452 on to the client,
# who sends the deferred recipient the message in a transaction of its
# own.
milter_stop a
milter_conf a "local_domains = mx.smilla.test" "milter_client_auth = yes" \
	"require_table = $work/a-clients.tbl" "mixed_recipients = defer"
milter_start a || { done_testing; exit 1; }

msg defer-ab "alice@smilla.test, bob@smilla.test" <<'EOF'
MIME-Version: 1.0
Content-Type: text/plain; charset=us-ascii

Alice has S/MIME only, Bob OpenPGP only: two transactions, through Sendmail.
EOF
entity defer-ab
send defer-ab alice@smilla.test,bob@smilla.test
like "$(grep -v '^ *\(<~  250\|~>\|<-\|->\|===\)' "$work/out/defer-ab.out")" \
	'<(\*\*|~\*) +452 4\.5\.3 (<[^>]*>\.\.\. )?<bob@smilla\.test>: deliver separately: its keys are in another format' \
	"defer: alice (S/MIME) first, bob (OpenPGP only) gets 452 4.5.3 at RCPT"
like "$out" '<~  250 2\.0\.0 [0-9A-Za-z]+ Message accepted for delivery' "  the message is accepted for alice"
total=$((total + 1))
m=$(delivered defer-ab 1) || true
encrypted_ok "$m" 1 aes256-cbc
check "  alice's copy: S/MIME, byte-exact" decrypts_to "$m" alice defer-ab
sed 's/^Subject: milter-defer-ab/Subject: milter-defer-b/' "$work/msg/defer-ab.eml" >"$work/msg/defer-b.eml"
wire defer-b
entity defer-b
deliver defer-b bob@smilla.test 1 "  the client's retry for bob alone"
pgp_ok "$m" 1
check "  bob's copy: PGP/MIME, gpg --decrypt byte-exact" gpg_decrypts_to "$m" bob defer-b

# ------------------------------------------------------------------ 9. mixed_recipients = split

# Milter A with split: the copies for the other classes go to Sendmail's
# second listener, whose empty InputMailFilters= runs no milter, and are
# relayed to the sink like the original.
t9=$EPOCHREALTIME
split_conf() { # REINJECT_PORT [LINE...]: milter A restarted in split mode
	local port=$1
	shift
	milter_stop a
	milter_conf a "local_domains = mx.smilla.test" "milter_client_auth = yes" \
		"require_table = $work/a-clients.tbl" "mixed_recipients = split" \
		"reinject_service = inet:127.0.0.1:$port" "split_key_file = $work/split.key" "$@"
	milter_start a || { done_testing; exit 1; }
}
split_conf "$SM_REINJECT_PORT"

msg split3 "alice@smilla.test, bob@smilla.test, nobody@smilla.test" <<'EOF'
MIME-Version: 1.0
X-Smilla-Split: v=1; t=1700000000; mac=00000000000000000000000000000000000000000000000000000000000000ff
Content-Type: text/plain; charset=us-ascii

One message through Sendmail, three recipients, three classes: each gets its own.
EOF
entity split3
deliver split3 alice@smilla.test,bob@smilla.test,nobody@smilla.test 3 \
	"split: alice (S/MIME), bob (OpenPGP), nobody (no key) in one transaction"
split3_ok split3
is "$(cat "$ma" "$mb" "$mn" | grep -c 'mac=0000000000')" 0 "  the forged trace header is in no copy"
l=$(logline a "$qid")
like "$l" ' action=encrypted split="smime:1 kept; openpgp:1 queued_as=[0-9A-Za-z]+; plaintext:1 queued_as=[0-9A-Za-z]+" ' \
	"  log: the groups, the copies' Sendmail queue ids"
for q in $(printf '%s' "$l" | grep -o 'queued_as=[0-9A-Za-z]*' | sed 's/queued_as=//'); do
	like "$(grep -F " $q: from=" "$work/sm/sendmail.log")" ' daemon=smilla-reinject, relay=' \
		"  copy $q: taken by Sendmail's listener without milters"
	like "$(grep -F " $q: to=" "$work/sm/sendmail.log")" ' stat=Sent ' "  copy $q: relayed (stat=Sent)"
	is "$(logline a "$q")" "" "  copy $q: never seen by the milter"
done

# The DSN parameters through Sendmail: the copy to bob keeps NOTIFY and
# ORCPT (and the message BODY, RET, ENVID) up to the sink, whose success
# notice to dsn@smilla.test says so.
msg splitdsn "alice@smilla.test, bob@smilla.test" <<'EOF'
Content-Type: text/plain; charset=us-ascii

The copy keeps NOTIFY and ORCPT, through Sendmail.
EOF
dsn_send splitdsn "$SM_PORT"
is "$rc" 0 "split through Sendmail: NOTIFY and ORCPT for bob; BODY, RET, ENVID (smtplib)"
total=$((total + 3)) # alice's, bob's, and the success notice for bob
qid=$(sed -n 's/^250 2\.0\.0 \([0-9A-Za-z]*\) Message accepted.*/\1/p' "$work/out/splitdsn.out")
ms=$(delivered splitdsn 2) || true
pgp_ok "$(copy_of bob@smilla.test)" 1
like "$(logline a "$qid")" ' split="smime:1 kept; openpgp:1 queued_as=' "  split in two"
dsn_report_ok "the sink's success notice for bob"

msg splitdown "alice@smilla.test, nobody@smilla.test" <<'EOF'
Content-Type: text/plain; charset=us-ascii

Sent while the listener for the copies is down: nothing goes out.
EOF
entity splitdown
split_conf "$(pick_port "$SM_REINJECT_PORT" "$SM_PORT" "$PF_PORT")" "reinject_timeout = 5"
send splitdown alice@smilla.test,nobody@smilla.test
like "$out" '<(\*\*|~\*) +451 4\.3\.0 ' "split, reinject_service down: the whole message tempfailed (451 4.3.0 to the end of DATA)"
is "$qid" "" "  nothing accepted"
like "$(grep 'split' "$work/a.log" | tail -n2)" 'reason="split: ' "  log: why (the copy was not taken)"
is "$(sendmail_queued)" 0 "  nothing queued in Sendmail"
sleep 1
is "$(grep -rl '^Subject: milter-splitdown' "$PF_MAILDIR/new" "$PF_MAILDIR/cur" 2>/dev/null | wc -l)" 0 \
	"  nothing delivered"
split_conf "$SM_REINJECT_PORT"
deliver splitdown alice@smilla.test,nobody@smilla.test 2 "  the client's retry once it is back"
# shellcheck disable=SC2086 # $ms: one path a line, no blanks
is "$(whose $ms | sed 's/=.*//' | sort | tr '\n' ' ')" "alice@smilla.test nobody@smilla.test " \
	"  two deliveries, one each"
check "  alice's copy decrypts byte-exact" decrypts_to "$(copy_of alice@smilla.test)" alice splitdown
plaintext_ok "$(copy_of nobody@smilla.test)" splitdown no-key 1 0

# reinject_service pointed at the listener that runs smilla: the copies
# come back, their trace headers hold, and they pass untouched, once.
msg splitloop "alice@smilla.test, bob@smilla.test, nobody@smilla.test" <<'EOF'
Content-Type: text/plain; charset=us-ascii

The copy comes back through smilla: neither split nor encrypted again.
EOF
entity splitloop
split_conf "$SM_PORT"
n0=$(grep -c 'action=untouched reason="split-copy"' "$work/a.log" || true)
deliver splitloop alice@smilla.test,bob@smilla.test,nobody@smilla.test 3 \
	"split, reinject_service through Sendmail's listener with smilla"
# shellcheck disable=SC2086 # $ms: one path a line, no blanks
is "$(whose $ms | sed 's/=.*//' | sort | tr '\n' ' ')" "alice@smilla.test bob@smilla.test nobody@smilla.test " \
	"  three deliveries, one each"
check "  alice's decrypts" decrypts_to "$(copy_of alice@smilla.test)" alice splitloop
check "  bob's decrypts (encrypted once)" gpg_decrypts_to "$(copy_of bob@smilla.test)" bob splitloop
plaintext_ok "$(copy_of nobody@smilla.test)" splitloop no-key 1 0
is "$(($(grep -c 'action=untouched reason="split-copy"' "$work/a.log") - n0))" 2 \
	"  log: the two copies that came back passed untouched"

# A listener answering 4xx at RCPT (Postfix's smtp-sink): tempfailed,
# nothing delivered.
SPORT=$(pick_port "$SM_REINJECT_PORT" "$SM_PORT" "$PF_PORT")
"$(command -v smtp-sink || echo /usr/sbin/smtp-sink)" -u root -r RCPT "127.0.0.1:$SPORT" 10 >"$work/sink.log" 2>&1 &
spid=$!
wait_listening "$SPORT" || true
split_conf "$SPORT"
msg split4xx "alice@smilla.test, nobody@smilla.test" <<'EOF'
Content-Type: text/plain; charset=us-ascii

The listener answers 450 at RCPT: nothing goes out.
EOF
send split4xx alice@smilla.test,nobody@smilla.test
like "$out" '<(\*\*|~\*) +451 4\.3\.0 ' "split, the listener answering 4xx at RCPT: tempfailed (451 4.3.0)"
is "$qid" "" "  nothing accepted"
kill "$spid" 2>/dev/null; wait "$spid" 2>/dev/null || true

# Too big to encrypt (max_message_size 200000): not split, plaintext
# to both, as the whole message would be.
split_conf "$SM_REINJECT_PORT" "max_message_size = 200000"
{
	printf 'Content-Type: text/plain; charset=us-ascii\n\n'
	head -c 220000 /dev/urandom | base64 -w 76
} | msg splitbig "alice@smilla.test, nobody@smilla.test"
deliver splitbig alice@smilla.test,nobody@smilla.test 2 "split, over max_message_size: not split"
plaintext_ok "$m" splitbig no-key 2 1
unlike "$(logline a "$qid")" 'split=' "  no copies"

# 100 recipients in three classes.
split_conf "$SM_REINJECT_PORT"
many=$(printf 'rcpt%02d@smilla.test,' $(seq 1 10); printf 'pgp%02d@smilla.test,' $(seq 1 10);
	printf 'nokey%02d@smilla.test,' $(seq 1 80))
msg splitmany "undisclosed-recipients:;" <<'EOF'
Content-Type: text/plain; charset=us-ascii

One hundred recipients in three classes, through Sendmail.
EOF
deliver splitmany "${many%,}" 100 "split: 100 recipients, 10 S/MIME, 10 OpenPGP, 80 without a key"
# shellcheck disable=SC2086 # $ms: one path a line, no blanks
is "$(whose $ms | sed 's/=.*//' | sort -u | wc -l)" 100 "  100 deliveries, each recipient once"
# shellcheck disable=SC2086 # $ms: one path a line, no blanks
is "$(for f in $ms; do hdr "$f" X-Smilla | sed 's/;.*//'; done | sort | uniq -c | sed 's/^ *//' | tr '\n' ',')" \
	"10 encrypted pgp,10 encrypted smime,80 plaintext," "  10 PGP/MIME, 10 S/MIME, 80 plaintext"
echo "# section 9: $(awk -v a="$t9" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }') s"

# ------------------------------------------------------------------ the end

sendmail_end
mta_end "$total"

# The client authentication rows (written at the latest when the milter
# stops): smilla-policyd's, but from the milter.  mx.smilla.test is the
# milter itself (reinject.c's EHLO name, the authserv_id), whose copies
# came back without STARTTLS in section 9's loop.
sha_of() { openssl x509 -in "$certs/$1.pem" -outform DER | openssl dgst -sha256 -r | cut -d' ' -f1 | tr a-f A-F; }
rows=$(sqlite3 -separator ' ' "$work/a.db" "SELECT DISTINCT identity, result,
	ifnull(usage, -1) || ' ' || ifnull(selector, -1) || ' ' || ifnull(mtype, -1),
	replace(upper(ifnull(cert_fp, '')), ':', '') FROM rep_events WHERE source = 'milter'
	AND key_type = 'tlsa' AND identity LIKE '%.smilla.test' ORDER BY 1, 2, 3, 4")
want=$(sort <<EOF
cert.smilla.test fail -1 -1 -1 $(sha_of other)
cert.smilla.test nocert -1 -1 -1 
cert.smilla.test pass 3 0 1 $(sha_of good)
full.smilla.test nocert -1 -1 -1 
full.smilla.test pass 3 0 0 $(sha_of good)
good.smilla.test unusable -1 -1 -1 $(sha_of good)
host.bogus.smilla.test bogus -1 -1 -1 $(sha_of good)
mx.smilla.test nocert -1 -1 -1 
EOF
)
is "$rows" "$want" "reputation: a tlsa row per decision, as smilla-policyd writes them (identity, result, record, certificate)"
agents_kill
nothing_left "milter, Sendmail's listener, Postfix, gpg-agents"
echo "# sendmail.t: $(awk -v a="$t_start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }') s"
trap - EXIT
done_testing
