#!/bin/sh
# Coverage-guided fuzzing (libFuzzer, with ASan and UBSan) of the
# parsers that read what the network and DNS send: every
# tests/fuzz/fuzz_NAME.c, as the Makefile built it into SMILLA_FUZZ_B
# (default: $SMILLA_PLAIN/fuzz, i.e. build/fuzz).  Each target runs
# SMILLA_FUZZ_SECONDS (4) from a seed corpus, the files made here in
# WORK/NAME (none yet for a new target: it starts from nothing); a
# crash, a leak or a broken invariant fails the test and leaves the
# input in the work directory.
set -eu
. "$(dirname "$0")/../lib/tap.sh"

top=${SMILLA_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
bin=${SMILLA_FUZZ_B:-${SMILLA_PLAIN:-$top/build}/fuzz}
secs=${SMILLA_FUZZ_SECONDS:-4}
work=$(mktemp -d /tmp/smilla-fuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT

mkdir -p "$work/request" "$work/rdata" "$work/mime" "$work/addr"
# The golden requests, without their comments (as golden.t sends them).
for f in "$top"/tests/policy/golden/*.in; do
	sed '/^#/d' "$f" > "$work/request/$(basename "$f")"
done
# RDATA sets: a length octet before each record (see fuzz_rdata.c).
printf '\001\043\003\001\001%032d' 0 > "$work/rdata/311"
printf '\000\003\003\000\000\003\002\001\001' > "$work/rdata/short"
printf '\001\006\003\001\002abc\043\002\000\001%032d' 0 > "$work/rdata/mixed"

# Mode octet, Content-Type value, NUL, body (see fuzz_mime.c): the
# message check (0), strict base64 and CMS (1), PGP/MIME (2), OpenPGP
# packets armored and binary (3).  PKT is an SKESK and an SEIPD packet.
pkt='\303\004\004\003\000\000\322\003\001\002\003'
armor="-----BEGIN PGP MESSAGE-----\r\n\r\n$(printf "$pkt" | base64)\r\n-----END PGP MESSAGE-----\r\n"
printf '\000application/pkcs7-mime; smime-type=enveloped-data; name="smime.p7m"\000MIAGCSqGSIb3DQEHA6CAMIACAQA=\r\n' > "$work/mime/smime"
printf '\000text/plain; charset=us-ascii\000\r\n%s' "$armor" > "$work/mime/inline"
printf '\000text/plain; charset=us-ascii\000Hello\r\n-----BEGIN PGP MESSAGE-----\r\n' > "$work/mime/quoted"
printf '\001\000TWFu\r\nTWE=\r\n' > "$work/mime/base64"
printf '\002multipart/encrypted; protocol="application/pgp-encrypted"; boundary=x\000--x\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n--x\r\nContent-Type: application/octet-stream\r\n\r\n%s--x--\r\n' "$armor" > "$work/mime/pgpmime"
printf '\003\000%s' "$armor" > "$work/mime/armor"
printf "\\003\\000$pkt" > "$work/mime/packets"

# OPENPGPKEY records (see fuzz_openpgpkey.c): an address length octet,
# the address, the RDATA; the test bed's keys, each for its own address
# (usable or not), when there is a bed.
mkdir -p "$work/openpgpkey"
printf '\017bob@smilla.test\231\000\003\004' > "$work/openpgpkey/short"
if [ -n "${BED_DIR:-}" ] && [ -r "$BED_DIR/bed.env" ]; then
	. "$BED_DIR/bed.env"
	for tag in $PGP_TAGS; do
		eval "addr=\$PGP_$(echo "$tag" | tr a-z A-Z)"
		{ printf "\\$(printf %03o ${#addr})%s" "$addr"
		  cat "$BED_DIR/keys/$tag.pgp"; } > "$work/openpgpkey/$tag"
	done
fi

# Signed mail (see fuzz_signed.c): Content-Type value, NUL, body; S/MIME
# detached, PGP/MIME nested in multipart/mixed, opaque.
mkdir -p "$work/signed"
printf 'multipart/signed; protocol="application/pkcs7-signature"; boundary=b\000--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b\r\nContent-Type: application/pkcs7-signature\r\nContent-Transfer-Encoding: base64\r\n\r\nMIAG\r\n--b--\r\n' > "$work/signed/smime"
printf 'multipart/mixed; boundary=o\000--o\r\nContent-Type: multipart/signed; boundary=i;\r\n\tprotocol="application/pgp-signature"\r\n\r\n--i\r\nContent-Type: text/plain\r\n\r\nx\r\n--i\r\nContent-Type: application/pgp-signature\r\n\r\nS\r\n--i--\r\n--o\r\nContent-Type: text/plain\r\n\r\nfooter\r\n--o--\r\n' > "$work/signed/nested"
printf 'application/pkcs7-mime; smime-type=signed-data\000MIAG\r\n' > "$work/signed/opaque"

# RCPT TO arguments (see fuzz_addr.c).
printf '<"Ca\\rol"@Example.Test>' > "$work/addr/quoted"
printf '<@r1.test,@r2.test:carol@x.test>' > "$work/addr/route"
printf '<user@[IPv6:2001:db8::1]>' > "$work/addr/literal"

# Header fields and bodies (see fuzz_protect.c): a piece-size octet,
# "name:value" fields separated by \001, NUL, the body.
mkdir -p "$work/protect"
printf '\007Subject:Dinner plans\001From:a@x\001Content-Type:multipart/alternative; boundary=b\000--b\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nx=3D\r\n--b\r\nContent-Type: text/html\r\n\r\n<html><body>y</body>\r\n--b--\r\n' > "$work/protect/alternative"
printf '\001Subject:=?utf-8?q?caf=C3=A9?=\001Content-Type:text/plain; charset=utf-8\001Content-Transfer-Encoding:base64\000Y2Fm\r\n' > "$work/protect/base64"
printf '\003Subject:a\nb\r\n\r\nc\001Keywords:k\001Content-Type:multipart/mixed; boundary=o\000--o\r\nContent-Type: multipart/related; boundary=i\r\n\r\n--i\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<body>--o\r\n--i--\r\n--o--\r\n' > "$work/protect/nested"

# Configuration files and tables (see fuzz_config.c): the file, NUL,
# the table.
mkdir -p "$work/config"
printf 'dns_timeout = 5\nlocal_domains = example.org .example.net\nlisten = inet:127.0.0.1:9999, unix:/run/x.sock\naction_fail = REJECT 5.7.1 no\n\000example.org\n.sub.example.org\nuser@example.org\n# comment\n' > "$work/config/shape"
printf 'identity = helo ccert_subject\nmixed_recipients = split\nreinject_service = inet:[::1]:25\n\000[192.0.2.1]\n' > "$work/config/split"

# Signatures (see fuzz_sig.c), made with the bed's keys when it is up:
# a mode octet, then a CMS SignedData (0: detached), or an OpenPGP
# signature (1), NUL, and the signer's OPENPGPKEY record.
mkdir -p "$work/sig"
printf '\001\000' > "$work/sig/empty-pgp"
if [ -n "${BED_DIR:-}" ] && [ -r "$BED_DIR/certs/alice.pem" ]; then
	printf 'Content-Type: text/plain\r\n\r\nsigned\r\n' > "$work/signed.txt"
	{ printf '\000'; openssl cms -sign -binary -md sha256 -in "$work/signed.txt" \
		-signer "$BED_DIR/certs/alice.pem" -inkey "$BED_DIR/certs/alice.key" \
		-outform DER 2>/dev/null; } > "$work/sig/cms"
	mkdir -m 700 "$work/g"
	if gpg --homedir "$work/g" --batch --import "$BED_DIR/keys/bob-secret.pgp" 2>/dev/null; then
		{ printf '\001'; gpg --homedir "$work/g" --batch --pinentry-mode loopback \
			--passphrase '' --detach-sign -o - "$work/signed.txt" 2>/dev/null
		  printf '\000'; cat "$BED_DIR/keys/bob.pgp"; } > "$work/sig/pgp"
		gpgconf --homedir "$work/g" --kill all 2>/dev/null || true
	fi
fi

# Trace header values (see fuzz_trace.c): the value, NUL, the body.
mkdir -p "$work/trace"
printf 'v=1; t=1700000000; mac=%064d\000encrypted\r\nbody\n' 0 > "$work/trace/shape"
printf ' v=1; t=99999999999999999999; mac=ff\000\r' > "$work/trace/overflow"

targets=$(cd "$top/tests/fuzz" && ls fuzz_*.c | sed 's/^fuzz_//; s/\.c$//')
for t in $targets; do
	mkdir -p "$work/$t"
	if [ ! -x "$bin/fuzz_$t" ]; then
		ok 1 "fuzz_$t built (make fuzz)"
		continue
	fi
	set +e
	(cd "$work" && "$bin/fuzz_$t" -max_total_time="$secs" -max_len=8192 \
		-print_final_stats=1 "$work/$t" > "$work/$t.log" 2>&1)
	rc=$?
	set -e
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$t.log")
	ok "$rc" "fuzz_$t: ${runs:-?} inputs in ${secs}s, no crash, leak or broken invariant"
	if [ "$rc" != 0 ]; then
		grep -E 'ERROR|SUMMARY|#[0-9]+ ' "$work/$t.log" | head -20 | sed 's/^/#   /'
		trap - EXIT
		echo "# inputs and logs kept in $work"
	fi
done
done_testing
