#!/bin/bash
# smilla (the milter) end to end: a real Postfix (throwaway instance,
# tests/e2e/postfix.sh) calls three smilla milters, swaks sends, the
# DNSSEC test bed publishes the SMIMEA records, and the delivered mail is
# decrypted with openssl and, as a second implementation, gpgsm.
#
#   milter A (default, clients from 127.0.0.1): aes256-cbc, local_domains =
#            mx.smilla.test (so *@smilla.test is outbound and encrypted)
#   milter B (clients from 127.0.0.2, smtpd_milter_maps): aes256-gcm
#   milter C (clients from 127.0.0.3): local_domains = smilla.test with
#            encrypt_inbound = no, i.e. direction disabled
# Each has its own require_encryption_table and cache database.
set -eu
export LC_ALL=C
. "$(dirname "$0")/../lib/tap.sh"
require_bed
. "$(dirname "$0")/../lib/mta.sh"
mta_setup milter tmp
pf="$work/pf"
gnupg="$work/gnupg"
MILTERS="a b c"
declare -A mpid=()
. "$here/../lib/mail.sh"

cleanup() {
	"$PF_SH" stop "$pf" >/dev/null 2>&1 || true
	milters_kill
	[ -d "$gnupg" ] && GNUPGHOME="$gnupg" gpgconf --kill all >/dev/null 2>&1 || true
}
trap cleanup EXIT

# ------------------------------------------------------------------ milters

cat >"$work/a-require.tbl" <<'TBL'
# milter A: a required domain and address without keys, a bogus one, an
# address under the unsigned zone, and one with a key (carol)
nokey-required.smilla.test
must@smilla.test
eve@bogus.smilla.test
req@insecure.smilla.test
carol@smilla.test
TBL
echo "sig@smilla.test" >"$work/b-require.tbl"   # unusable certificate
echo "carol@smilla.test" >"$work/c-require.tbl" # direction disabled

milter_conf a "local_domains = mx.smilla.test"
milter_conf b "local_domains = mx.smilla.test" "smime_cipher = aes256-gcm"
milter_conf c "local_domains = smilla.test" "encrypt_inbound = no"
milters_start || { done_testing; exit 1; }

# ------------------------------------------------------------------ Postfix

export PF_EXTRA_DOMAINS="smilla.test bogus.smilla.test insecure.smilla.test nokey-required.smilla.test"
postfix_start || { done_testing; exit 1; }
check "  postfix.sh 'none': no policy service in main.cf" \
	sh -c "! postconf -c '$PF_CONF' -h smtpd_recipient_restrictions | grep -q check_policy_service"

# gpgsm with alice's key, for the second implementation.
mkdir -p "$gnupg"
chmod 700 "$gnupg"
GNUPGHOME="$gnupg" gpgsm --batch --pinentry-mode loopback --passphrase '' \
	--import "$certs/alice.p12" >"$work/gpgsm-import.log" 2>&1 && rc=0 || rc=$?
is "$rc" 0 "gpgsm imports alice.p12"

total=0 # messages expected in the Maildir

# ------------------------------------------------------------------ 1. alice

msg alice alice@smilla.test <<'EOF'
MIME-Version: 1.0
X-Smilla: encrypted smime; forged by the sender
Content-Type: text/plain;
	charset="utf-8";
	format=flowed
Content-Transfer-Encoding: 7bit

Hello Alice,

this travels encrypted.  Trailing blanks stay:   
	a tab-indented line
-- 
sender
EOF
entity alice
send alice alice@smilla.test
is "$rc" 0 "alice: accepted"
total=$((total + 1))
m=$(delivered alice 1) || true
check "  delivered" [ -s "$m" ]
encrypted_ok "$m" 1 aes256-cbc
check "  From, To, Subject, Date, Message-ID kept" headers_kept "$m" alice
check "  openssl cms -decrypt (alice.key) gives the MIME entity byte-exact" \
	decrypts_to "$m" alice alice
openssl smime -decrypt -in "$m" -inkey "$certs/alice.key" -recip "$certs/alice.pem" \
	-binary -out "$work/out/alice.smime.dec" 2>"$work/out/alice.smime.err" && rc=0 || rc=$?
check "  openssl smime -decrypt on the delivered file, byte-exact" \
	eval '[ "$rc" -eq 0 ] && same_file "$work/out/alice.smime.dec" "$work/msg/alice.entity"'
body "$m" | base64 -d >"$work/out/alice.gpgsm.der" 2>/dev/null || true
GNUPGHOME="$gnupg" gpgsm --batch --pinentry-mode loopback --passphrase '' \
	--decrypt "$work/out/alice.gpgsm.der" >"$work/out/alice.gpgsm.dec" \
	2>"$work/out/alice.gpgsm.err" && rc=0 || rc=$?
check "  gpgsm --decrypt (second implementation), byte-exact" \
	eval '[ "$rc" -eq 0 ] && same_file "$work/out/alice.gpgsm.dec" "$work/msg/alice.entity"'
[ "$rc" -eq 0 ] || sed 's/^/#   gpgsm: /' "$work/out/alice.gpgsm.err" | head -5
log_is a alice ' rcpts=alice@smilla\.test:secure action=encrypted size=[0-9]+ ms=[0-9]+'

# ------------------------------------------------------------------ 2. alice + carol

msg two "alice@smilla.test, carol@smilla.test" <<'EOF'
MIME-Version: 1.0
Content-Type: text/plain; charset=us-ascii

One message, two recipients, each with her own key.
EOF
entity two
send two alice@smilla.test,carol@smilla.test
is "$rc" 0 "alice + carol: accepted"
total=$((total + 2))
ms=$(delivered two 2) || true
is "$(printf '%s\n' "$ms" | grep -c .)" 2 "  two copies delivered"
m1=$(printf '%s\n' "$ms" | sed -n 1p)
m2=$(printf '%s\n' "$ms" | sed -n 2p)
encrypted_ok "$m1" 2 aes256-cbc
check "  alice decrypts it" decrypts_to "$m1" alice two
check "  carol decrypts it" decrypts_to "$m2" carol two
check "  the two copies carry the same encryption" \
	eval '[ -s "$m1" ] && [ -s "$m2" ] && cmp -s <(body "$m1") <(body "$m2")'
log_is a two ' rcpts=alice@smilla\.test:secure,carol@smilla\.test:secure action=encrypted '

# ------------------------------------------------------------------ 3. dave (EC)

msg dave dave@smilla.test <<'EOF'
MIME-Version: 1.0
Content-Type: text/plain; charset=us-ascii

For an EC key: key agreement (ECDH) instead of key transport.
EOF
entity dave
send dave dave@smilla.test
is "$rc" 0 "dave (EC P-256): accepted"
total=$((total + 1))
m=$(delivered dave 1) || true
encrypted_ok "$m" 1 aes256-cbc
check "  openssl cms -decrypt (dave.key, EC) byte-exact" decrypts_to "$m" dave dave
log_is a dave ' rcpts=dave@smilla\.test:secure action=encrypted '

# ------------------------------------------------------------------ 4. no Content-* headers

msg bare alice@smilla.test <<'EOF'

A message without MIME headers: the entity is an empty header section
and this body.
EOF
entity bare
send bare alice@smilla.test
is "$rc" 0 "no Content-* headers: accepted"
total=$((total + 1))
m=$(delivered bare 1) || true
encrypted_ok "$m" 1 aes256-cbc
check "  decrypts to CRLF + body" decrypts_to "$m" alice bare

# ------------------------------------------------------------------ 5. aes256-gcm (milter B)

msg gcm alice@smilla.test <<'EOF'
MIME-Version: 1.0
Content-Type: text/plain; charset=us-ascii

AuthEnvelopedData with AES-256-GCM.
EOF
entity gcm
send gcm alice@smilla.test --local-interface 127.0.0.2
is "$rc" 0 "smime_cipher = aes256-gcm (milter B): accepted"
total=$((total + 1))
m=$(delivered gcm 1) || true
encrypted_ok "$m" 1 aes256-gcm
check "  openssl cms -decrypt (AuthEnvelopedData) byte-exact" decrypts_to "$m" alice gcm
log_is b gcm ' rcpts=alice@smilla\.test:secure action=encrypted '

# ------------------------------------------------------------------ 6. no key

msg nokey nobody@smilla.test <<'EOF'
MIME-Version: 1.0
X-Smilla: encrypted smime; recipients=1; forged
Content-Type: text/plain; charset=us-ascii

Nobody publishes a certificate: this stays plain.
EOF
send nokey nobody@smilla.test
is "$rc" 0 "recipient without SMIMEA: accepted"
total=$((total + 1))
m=$(delivered nokey 1) || true
plaintext_ok "$m" nokey no-key 1 0
log_is a nokey ' rcpts=nobody@smilla\.test:none action=plaintext reason="?no-key"? '

# ------------------------------------------------------------------ 7. mixed

msg mixed "alice@smilla.test, nobody@smilla.test" <<'EOF'
MIME-Version: 1.0
Content-Type: text/plain; charset=us-ascii

One recipient with a key, one without, neither required.
EOF
send mixed alice@smilla.test,nobody@smilla.test
is "$rc" 0 "alice + nobody (neither required): accepted"
total=$((total + 2))
ms=$(delivered mixed 2) || true
m=$(printf '%s\n' "$ms" | head -n1)
plaintext_ok "$m" mixed no-key 2 1
log_is a mixed ' rcpts=alice@smilla\.test:secure,nobody@smilla\.test:none action=plaintext reason="?no-key"? '

# ------------------------------------------------------------------ 8. sig, pkix, ivan

for r in sig@smilla.test:unusable pkix@smilla.test:unusable ivan@insecure.smilla.test:insecure; do
	addr=${r%:*}
	state=${r##*:}
	n=${addr%%@*}
	msg "$n" "$addr" <<'EOF'
MIME-Version: 1.0
Content-Type: text/plain; charset=us-ascii

Published, but not usable for encryption.
EOF
	send "$n" "$addr"
	is "$rc" 0 "$addr ($state): accepted"
	total=$((total + 1))
	m=$(delivered "$n" 1) || true
	plaintext_ok "$m" "$n" no-key 1 0
	log_is a "$n" " rcpts=${addr//./\\.}:$state action=plaintext reason=\"?no-key\"? "
done

# ------------------------------------------------------------------ 9. required

msg req "whoever" <<'EOF'
Content-Type: text/plain

Must not be delivered.
EOF
rej() { # DESCRIPTION ADDRESS CODE [swaks args]
	local d=$1 a=$2 c=$3
	shift 3
	send req "$a" "$@"
	like "$out" "<(\*\*|~\*) +${c//./\\.} .*encryption required for <${a//./\\.}>" "$d: $c at RCPT"
}
rej "required domain without SMIMEA" nokey@nokey-required.smilla.test "550 5.7.1"
rej "required address without SMIMEA" must@smilla.test "550 5.7.1"
rej "required address under the unsigned zone (insecure)" req@insecure.smilla.test "550 5.7.1"
rej "required address in the bogus zone" eve@bogus.smilla.test "450 4.7.5"
rej "required address, unusable certificate (milter B)" sig@smilla.test "550 5.7.1" \
	--local-interface 127.0.0.2
rej "required address, direction disabled (milter C)" carol@smilla.test "550 5.7.1" \
	--local-interface 127.0.0.3

# The same required mailboxes spelt otherwise (Postfix's virtual and
# local(8) lookups fold case, so they reach must@'s and carol@'s
# mailbox), and addresses too long to hold.
rej_as() { # DESCRIPTION ADDRESS CODE SHOWN [swaks args]
	local d=$1 a=$2 c=$3 s=$4
	shift 4
	send req "$a" "$@"
	like "$out" "<(\*\*|~\*) +${c//./\\.} .*encryption required for <${s//./\\.}>" "$d: $c at RCPT"
	is "$qid" "" "  nothing queued"
}
rej_as "required address in uppercase" MUST@smilla.test "550 5.7.1" MUST@smilla.test
rej_as "required address quoted" '"must"@smilla.test' "550 5.7.1" must@smilla.test
rej_as "required address quoted, capitalised" '"Must"@Smilla.Test' "550 5.7.1" Must@smilla.test
rej_as "required address quoted, quoted pair" '"mu\st"@smilla.test' "550 5.7.1" must@smilla.test
rej_as "percent hack to a required domain" 'nokey%nokey-required.smilla.test@smilla.test' "550 5.7.1" 'nokey\?nokey-required.smilla.test@smilla.test'
rej_as "bang path to a required domain" 'nokey-required.smilla.test!nokey@smilla.test' "550 5.7.1" 'nokey-required.smilla.test!nokey@smilla.test'
rej_as "required address with an extension (recipient_delimiter +)" 'MUST+news@smilla.test' "550 5.7.1" 'MUST\+news@smilla.test'
long=$(printf 'x%.0s' $(seq 1 1100))
for d in nokey-required.smilla.test smilla.test; do
	send req "$long@$d"
	like "$out" '<(\*\*|~\*) +5[0-9][0-9] 5\.1\.3 ' "an 1100-octet local part at $d: 5xx 5.1.3"
	is "$qid" "" "  nothing queued"
done
like "$(cat "$work/a.log")" 'rcpt=<xxxxxxxxxx[x.]*> state=skipped reason="address longer than 1024 octets" refused="501 5\.1\.3 ' \
	"  refused by the milter, the address shortened in its log"

msg upper "CAROL@smilla.test" <<'EOF'
MIME-Version: 1.0
Content-Type: text/plain; charset=us-ascii

Required as carol@, sent to CAROL@: her key is found lowercased.
EOF
entity upper
send upper CAROL@smilla.test
like "$out" '<~  250 2\.0\.0 Ok: queued as' "required CAROL@smilla.test with carol's key: accepted"
total=$((total + 1))
m=$(delivered upper 1) || true
encrypted_ok "$m" 1 aes256-cbc
check "  carol decrypts it" decrypts_to "$m" carol upper
log_is a upper ' rcpts=CAROL@smilla\.test:secure action=encrypted '

msg sep "carol@smilla.test, nobody@smilla.test" <<'EOF'
MIME-Version: 1.0
Content-Type: text/plain; charset=us-ascii

Required and keyless recipients are not mixed in one transaction.
EOF
entity sep
send sep carol@smilla.test,nobody@smilla.test
like "$out" '<(\*\*|~\*) +452 4\.5\.3 .*nobody@smilla\.test' \
	"required carol + keyless nobody: nobody gets 452 4.5.3 (deliver separately)"
like "$out" '<~  250 2\.0\.0 Ok: queued as' "  the message is accepted for carol"
total=$((total + 1))
m=$(delivered sep 1) || true
encrypted_ok "$m" 1 aes256-cbc
check "  carol decrypts it" decrypts_to "$m" carol sep
log_is a sep ' rcpts=carol@smilla\.test:secure(,nobody@smilla\.test:none\(refused\))? action=encrypted '

# ------------------------------------------------------------------ 10. direction disabled (milter C)

msg inbound alice@smilla.test <<'EOF'
MIME-Version: 1.0
Content-Type: text/plain; charset=us-ascii

Inbound with encrypt_inbound = no.
EOF
send inbound alice@smilla.test --local-interface 127.0.0.3
is "$rc" 0 "local domain, encrypt_inbound = no (milter C): accepted"
total=$((total + 1))
m=$(delivered inbound 1) || true
plaintext_ok "$m" inbound disabled 1 0
log_is c inbound ' rcpts=alice@smilla\.test:skipped action=plaintext reason="?disabled"? '

# ------------------------------------------------------------------ 11. already encrypted

printf 'Content-Type: text/plain\r\n\r\nsecret\r\n' >"$work/msg/inner.txt"
openssl smime -encrypt -aes256 -in "$work/msg/inner.txt" "$certs/carol.pem" \
	>"$work/msg/inner.smime" 2>/dev/null
perl -pe 's/^(Content-Type: application\/)x-(pkcs7-mime)/$1$2/' "$work/msg/inner.smime" |
	msg pre-smime alice@smilla.test
send pre-smime alice@smilla.test
is "$rc" 0 "already S/MIME encrypted: accepted"
total=$((total + 1))
m=$(delivered pre-smime 1) || true
check "  body untouched" unchanged "$m" pre-smime
untouched_ok "$m" smime
like "$(hdr "$m" Content-Type)" '^application/pkcs7-mime; *smime-type=enveloped-data' "  Content-Type untouched"
log_is a pre-smime ' action=untouched reason="already-encrypted" '

mkdir -p "$work/pgp"
chmod 700 "$work/pgp"
printf 'secret\n' | GNUPGHOME="$work/pgp" gpg --batch --no-tty --trust-model always \
	--recipient-file "$BED_DIR/keys/bob.pgp" --armor --encrypt >"$work/msg/pgp.asc" 2>"$work/msg/pgp.err" || true
GNUPGHOME="$work/pgp" gpgconf --kill all >/dev/null 2>&1 || true
check "gpg made a PGP message for bob" grep -q -- '-----BEGIN PGP MESSAGE-----' "$work/msg/pgp.asc"
{
	cat <<'EOF'
MIME-Version: 1.0
X-Smilla: encrypted smime; recipients=1; forged
Content-Type: multipart/encrypted; protocol="application/pgp-encrypted";
	boundary="=-pgp-boundary"

--=-pgp-boundary
Content-Type: application/pgp-encrypted
Content-Description: PGP/MIME version identification

Version: 1

--=-pgp-boundary
Content-Type: application/octet-stream; name="encrypted.asc"
Content-Disposition: inline; filename="encrypted.asc"

EOF
	cat "$work/msg/pgp.asc"
	printf '\n--=-pgp-boundary--\n'
} | msg pre-pgpmime alice@smilla.test
send pre-pgpmime alice@smilla.test
is "$rc" 0 "already PGP/MIME encrypted (multipart/encrypted): accepted"
total=$((total + 1))
m=$(delivered pre-pgpmime 1) || true
check "  body untouched" unchanged "$m" pre-pgpmime
untouched_ok "$m" pgp-mime
log_is a pre-pgpmime ' action=untouched reason="already-encrypted" '

# Text in the preamble could be the secret: encrypted again (safe).
perl -pe 'if (!$done && /^--=-pgp-boundary\r?$/) { $_ = "This is an OpenPGP/MIME encrypted message\r\n$_"; $done = 1 }
	s/^Subject: milter-pre-pgpmime/Subject: milter-pgpmime-preamble/' \
	"$work/msg/pre-pgpmime.eml" >"$work/msg/pgpmime-preamble.eml"
wire pgpmime-preamble
entity pgpmime-preamble
send pgpmime-preamble alice@smilla.test
is "$rc" 0 "PGP/MIME with preamble text: accepted"
total=$((total + 1))
m=$(delivered pgpmime-preamble 1) || true
encrypted_ok "$m" 1 aes256-cbc
check "  alice decrypts it (preamble included)" decrypts_to "$m" alice pgpmime-preamble

{
	printf 'Content-Type: text/plain; charset=us-ascii\n\n'
	cat "$work/msg/pgp.asc"
} | msg pre-inline alice@smilla.test
send pre-inline alice@smilla.test
is "$rc" 0 "already encrypted, inline PGP: accepted"
total=$((total + 1))
m=$(delivered pre-inline 1) || true
check "  body untouched" unchanged "$m" pre-inline
untouched_ok "$m" pgp-inline
log_is a pre-inline ' action=untouched reason="already-encrypted" '

# The four fakes of issue 9 to carol (required, with a key): a label
# over plaintext is no reason to pass it; each arrives encrypted, and
# the forged status header never survives.
fake() { # NAME, the message on stdin
	msg "$1" carol@smilla.test
	entity "$1"
	send "$1" carol@smilla.test
	is "$rc" 0 "$1 to required carol: accepted"
	total=$((total + 1))
	m=$(delivered "$1" 1) || true
	encrypted_ok "$m" 1 aes256-cbc
	check "  carol decrypts it: openssl cms gives the plaintext entity" decrypts_to "$m" carol "$1"
	check "  the plaintext is not readable in the delivered file" \
		eval "[ -s '$m' ] && ! grep -q 'secret-$1' '$m'"
	log_is a "$1" ' rcpts=carol@smilla\.test:secure action=encrypted '
}
fake fake-pkcs7 <<'EOF'
MIME-Version: 1.0
X-Smilla: encrypted smime; recipients=1; cipher=aes256-cbc; authserv=mx.smilla.test
Content-Type: application/pkcs7-mime; smime-type=enveloped-data; name="smime.p7m"
Content-Transfer-Encoding: base64

secret-fake-pkcs7 in plaintext under an S/MIME label
EOF
fake fake-multipart <<'EOF'
MIME-Version: 1.0
X-Smilla: encrypted smime; recipients=1; cipher=aes256-cbc; authserv=mx.smilla.test
Content-Type: multipart/encrypted; protocol="application/pgp-encrypted"; boundary="b"

--b
Content-Type: text/plain

secret-fake-multipart
--b--
EOF
fake fake-second-ct <<'EOF'
MIME-Version: 1.0
Content-Type: text/plain
X-Smilla: encrypted smime; recipients=1; cipher=aes256-cbc; authserv=mx.smilla.test
Content-Type: application/pkcs7-mime; smime-type=enveloped-data

secret-fake-second-ct
EOF
fake fake-quoted-pgp <<'EOF'
MIME-Version: 1.0
X-Smilla: encrypted smime; recipients=1; cipher=aes256-cbc; authserv=mx.smilla.test
Content-Type: text/plain

-----BEGIN PGP MESSAGE-----

hQEMA
-----END PGP MESSAGE-----
secret-fake-quoted-pgp
EOF

# ------------------------------------------------------------------ 12. 8-bit, multipart, 20 MB

eightbit_msg | msg eightbit alice@smilla.test
entity eightbit
send eightbit alice@smilla.test
is "$rc" 0 "8-bit body: accepted"
total=$((total + 1))
m=$(delivered eightbit 1) || true
encrypted_ok "$m" 1 aes256-cbc
check "  decrypts byte-exact (8-bit octets, dot lines, 900-octet line)" \
	decrypts_to "$m" alice eightbit

multipart_msg | msg multipart alice@smilla.test
entity multipart
send multipart alice@smilla.test
is "$rc" 0 "nested multipart, two attachments (300 KB base64): accepted"
total=$((total + 1))
m=$(delivered multipart 1) || true
encrypted_ok "$m" 1 aes256-cbc
check "  decrypts byte-exact" decrypts_to "$m" alice multipart
check "  the attachment decodes to the original octets" \
	attachment_ok "$work/out/multipart.alice.dec"

# A signed message is encrypted whole: the signature survives inside.
printf 'Content-Type: text/plain; charset=us-ascii\r\n\r\nSigned by carol.\r\n' \
	>"$work/msg/signed.content"
openssl smime -sign -in "$work/msg/signed.content" -binary \
	-signer "$certs/carol.pem" -inkey "$certs/carol.key" \
	-out "$work/msg/signed.smime" 2>"$work/out/signed.sign.err"
msg signed alice@smilla.test <"$work/msg/signed.smime"
entity signed
send signed alice@smilla.test
is "$rc" 0 "S/MIME signed (multipart/signed): accepted"
total=$((total + 1))
m=$(delivered signed 1) || true
encrypted_ok "$m" 1 aes256-cbc
check "  decrypts byte-exact" decrypts_to "$m" alice signed
check "  carol's signature verifies inside" \
	openssl smime -verify -in "$work/out/signed.alice.dec" \
	-CAfile "$certs/ca.pem" -out /dev/null

big_t0=$EPOCHREALTIME
big_msg | msg big alice@smilla.test
entity big
# Watch milter A's open files while the message is in flight: the body,
# above max_memory_body, must spool to a 0600 file in TMPDIR (unlinked
# or not).  One perl process polling /proc, not a fork per check.
perl -e '
	my ($pid, $dir) = @ARGV;
	$| = 1;
	while (opendir(my $d, "/proc/$pid/fd")) {
		for (readdir $d) {
			my $l = readlink("/proc/$pid/fd/$_") // next;
			next unless index($l, "$dir/") == 0;
			my @s = stat("/proc/$pid/fd/$_") or next;
			printf "%o %s\n", $s[2] & 07777, $l;
		}
		closedir $d;
		select(undef, undef, undef, 0.01);
	}' "${mpid[a]}" "$work/tmp" >"$work/out/spool.seen" 2>/dev/null &
watcher=$!
send big alice@smilla.test
kill "$watcher" 2>/dev/null || true
wait "$watcher" 2>/dev/null || true
is "$rc" 0 "$(($(stat -c %s "$work/msg/big.eml") / 1000000)) MB message: accepted"
seen=$(sort -u "$work/out/spool.seen")
check "  body spooled to a file in TMPDIR while in flight" [ -n "$seen" ]
is "$(printf '%s\n' "$seen" | grep -v '^$' | grep -vc '^600 ' || true)" 0 "  spool file mode 0600"
printf '%s\n' "$seen" | head -n 3 | sed 's/^/#   open: /'
total=$((total + 1))
m=$(delivered big 1) || true
encrypted_ok "$m" 1 aes256-cbc
check "  decrypts byte-exact" decrypts_to "$m" alice big
log_is a big ' rcpts=alice@smilla\.test:secure action=encrypted size=2[0-9]{7} '
is "$(find "/proc/${mpid[a]}/fd" -lname "$work/tmp/*" 2>/dev/null | wc -l)" 0 \
	"  spool file closed after the message"
echo "# 20 MB case: $(awk -v a="$big_t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }') s"
rm -f "$work/msg/big."* "$work/out/big."*

# ------------------------------------------------------------------ the end

mta_end "$total"
GNUPGHOME="$gnupg" gpgconf --kill all >/dev/null 2>&1 || true
nothing_left "milters, Postfix, gpg-agent"
echo "# milter.t: $(awk -v a="$t_start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }') s"
trap - EXIT
done_testing
