# tests/lib/mail.sh - sending test messages through the MTA under test
# (a private Postfix, tests/e2e/postfix.sh, or a private Sendmail,
# tests/lib/sendmail.sh) and looking at what was delivered into the
# Maildir of a private Postfix: for the milter's end-to-end tests.
# Sourced after tests/lib/tap.sh, with these set by the caller:
#   work    the test's directory (msg/ and out/ in it are used; g/TAG
#           are gpg homes, see gpg_in)
#   pf      the Postfix instance directory (postfix.env sourced)
#   PF_SH   tests/e2e/postfix.sh
#   certs   the bed's certificates (decrypt)
#   MTA_SEND  the command that runs swaks against the MTA under test
#           (tests/lib/sendmail.sh sets it); unset: "$PF_SH" send "$pf"
#
#   msg NAME TO < message       write msg/NAME.eml and .wire
#   send NAME TO [swaks args]   sets rc, out, qid
#   delivered NAME N            paths of N delivered copies
#   whose FILES / copy_of RCPT  the delivered files by Delivered-To
#   dsn_send NAME PORT          send with DSN parameters (smtplib)
#   dsn_report_ok WHAT          its success notice kept ORCPT and ENVID
#   split3_ok NAME              alice, bob, nobody each got their own
#   delivered_with LINE N       the same, by a header line
#   deliver NAME TO N WHAT      send, check accepted, count, delivered
#   hdr FILE NAME / body FILE / lf FILE
#   entity NAME                 msg/NAME.entity, what encryption must hold
#   note NAME TO TEXT           a one-part message and its entity
#   decrypt FILE KEY OUT / decrypts_to FILE KEY NAME [TAG]   (S/MIME)
#   cms_to FILE NAME            decrypts with alice's key alone
#   same_file A B / unchanged FILE NAME / headers_kept FILE NAME
#   encrypted_ok FILE N CIPHER (S/MIME) / plaintext_ok / untouched_ok
#   eightbit_msg / multipart_msg / big_msg / attachment_ok FILE
#   logline MILTER QID / log_is MILTER NAME PATTERN   ($work/MILTER.log)
#   gpg_in / agents_kill / pgp_ok / gpg_decrypt / gpg_decrypts_to   (OpenPGP, at the end)

# msg NAME TO: a message from stdin (header lines after the standard ones,
# an empty line, the body; LF line ends, turned into CRLF) written to
# msg/NAME.eml, and msg/NAME.wire for swaks --no-data-fixup (dot-stuffed,
# ending in "." without CRLF; swaks adds it).  Subject: milter-NAME.
msg() {
	local name=$1 to=$2
	{
		printf 'From: Sender <sender@client.test>\n'
		printf 'To: %s\n' "$to"
		printf 'Subject: milter-%s\n' "$name"
		printf 'Date: %s\n' "$(date -R)"
		printf 'Message-ID: <%s.%s@client.test>\n' "$name" "$$"
		cat
	} | perl -pe 's/\r?\n\z/\r\n/' >"$work/msg/$name.eml"
	wire "$name"
}
wire() {
	perl -0777 -pe 's/^\./../mg; $_ .= "."' "$work/msg/$1.eml" >"$work/msg/$1.wire"
}

# send NAME TO [swaks args]: send msg/NAME.wire; sets rc, out, qid (the
# queue id in Postfix's or Sendmail's reply to the end of DATA).
send() {
	local name=$1 to=$2
	shift 2
	mta_send --to "$to" --ehlo client.test --suppress-data \
		--no-data-fixup --data "@$work/msg/$name.wire" "$@" \
		>"$work/out/$name.out" 2>&1 && rc=0 || rc=$?
	out=$(cat "$work/out/$name.out")
	qid=$(sed -n -e 's/^<~  250 2\.0\.0 Ok: queued as \([0-9A-Za-z]*\).*/\1/p' \
		-e 's/^<~  250 2\.0\.0 \([0-9A-Za-z]*\) Message accepted for delivery.*/\1/p' \
		"$work/out/$name.out" | tail -n1)
}
# mta_send [swaks args]: swaks against the MTA under test.
mta_send() {
	if [ -n "${MTA_SEND:-}" ]; then
		"$MTA_SEND" "$@"
	else
		"$PF_SH" send "$pf" "$@"
	fi
}

# delivered NAME N: wait (30 s) for N messages with Subject milter-NAME in
# the Maildir; prints their paths, one a line.  Reads header sections only.
# Right after send: returns at once if the message got no queue id.
delivered() { delivered_with "Subject: milter-$1" "$2"; }
# delivered_with LINE N: the same for messages with header line LINE
# (for one whose Subject changes on the way: its Message-ID line).
delivered_with() {
	local f=""
	[ -n "${qid:-}" ] || return 1 # not accepted: nothing to wait for
	for _ in $(seq 1 300); do
		f=$(find "$PF_MAILDIR/new" "$PF_MAILDIR/cur" -maxdepth 1 -type f -exec \
			awk -v s="$1" '
				$0 == "" { nextfile }
				$0 == s { print FILENAME; nextfile }' {} + 2>/dev/null | sort)
		if [ -n "$f" ] && [ "$(printf '%s\n' "$f" | wc -l)" -ge "$2" ]; then
			printf '%s\n' "$f"
			return 0
		fi
		sleep 0.1
	done
	printf '%s\n' "$f"
	return 1
}

# deliver NAME TO N WHAT [swaks args]: send NAME to TO (envelope
# recipients, comma-separated), a test point "WHAT: accepted", N more
# messages for the Maildir in $total; the paths of the N delivered
# copies in $ms, the first in $m, the second in $m2.
deliver() {
	local name=$1 to=$2 n=$3 what=$4
	shift 4
	send "$name" "$to" "$@"
	is "$rc" 0 "$what: accepted"
	total=$((total + n))
	ms=$(delivered "$name" "$n") || true
	m=$(printf '%s\n' "$ms" | sed -n 1p)
	m2=$(printf '%s\n' "$ms" | sed -n 2p)
}

# whose FILES...: "recipient=file" for each delivered file, by Delivered-To.
whose() {
	local f
	for f in "$@"; do
		printf '%s=%s\n' "$(hdr "$f" Delivered-To)" "$f"
	done
}
# copy_of RCPT: the delivered file of RCPT among $ms.
copy_of() {
	# shellcheck disable=SC2086 # $ms: one path a line, no blanks
	whose $ms | sed -n "s|^$1=||p" | head -n1
}

# split3_ok NAME: the three deliveries ($ms) of message NAME, sent to
# alice (S/MIME), bob (OpenPGP) and nobody (no key) in split mode: one
# each, alice's and bob's decrypting to the entity, nobody's plaintext,
# the envelope sender kept.  Their paths in ma, mb and mn.
split3_ok() {
	# shellcheck disable=SC2086 # $ms: one path a line, no blanks
	is "$(whose $ms | sed 's/=.*//' | sort | tr '\n' ' ')" "alice@smilla.test bob@smilla.test nobody@smilla.test " \
		"  three deliveries, one for each recipient"
	ma=$(copy_of alice@smilla.test)
	mb=$(copy_of bob@smilla.test)
	mn=$(copy_of nobody@smilla.test)
	encrypted_ok "$ma" 1 aes256-cbc
	check "  alice's: S/MIME, openssl cms -decrypt byte-exact" decrypts_to "$ma" alice "$1"
	pgp_ok "$mb" 1
	check "  bob's: PGP/MIME, gpg --decrypt byte-exact" gpg_decrypts_to "$mb" bob "$1"
	plaintext_ok "$mn" "$1" no-key 1 0
	for f in "$ma" "$mb" "$mn"; do
		is "$(hdr "$f" Return-Path)" "<sender@client.test>" "  $(hdr "$f" Delivered-To): envelope sender kept"
	done
}

# dsn_send NAME PORT: msg/NAME.eml over SMTP to 127.0.0.1:PORT with
# Python's smtplib (swaks has no DSN options), from dsn@smilla.test with
# BODY=8BITMIME RET=HDRS ENVID=dsn-test, to alice@smilla.test and to
# bob@smilla.test with NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;robert@example.org.
# Sets rc, and out to the end of DATA's reply.
dsn_send() {
	python3 - "$work/msg/$1.eml" "$2" >"$work/out/$1.out" 2>&1 <<'PY' && rc=0 || rc=$?
import smtplib, sys
data = open(sys.argv[1], "rb").read()
s = smtplib.SMTP("127.0.0.1", int(sys.argv[2]))
s.ehlo("client.test")
s.mail("dsn@smilla.test", ["BODY=8BITMIME", "RET=HDRS", "ENVID=dsn-test"])
for rcpt, opts in (("alice@smilla.test", []),
                   ("bob@smilla.test", ["NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;robert@example.org"])):
    code, text = s.rcpt(rcpt, opts)
    assert code == 250, (code, text)
code, text = s.data(data)
print(code, text.decode())
s.quit()
PY
	out=$(cat "$work/out/$1.out")
}

# dsn_report_ok WHAT: the success notice dsn_send's NOTIFY=SUCCESS asked
# for is in the Maildir with bob's ORCPT and the message's ENVID.
dsn_report_ok() {
	ms=$(delivered_with "Subject: Successful Mail Delivery Report" 1) || true
	like "$(cat $ms)" 'Original-Recipient: rfc822; ?robert@example\.org' \
		"  $1: bob's ORCPT kept (Original-Recipient)"
	like "$(cat $ms)" 'Original-Envelope-Id: dsn-test' "  and the message's ENVID"
}

# hdr FILE NAME: values of header NAME (case-insensitive), one a line;
# unfolded with each line break and the whitespace around it turned into
# one space, leading whitespace removed.  CRLF or LF files.
hdr() {
	awk -v want="$(printf '%s' "$2" | tr 'A-Z' 'a-z')" '
		function flush() { if (cur != "") { n = index(cur, ":"); k = tolower(substr(cur, 1, n - 1));
			if (n > 0 && k == want) { v = substr(cur, n + 1); sub(/^[ \t]+/, "", v); print v } } cur = "" }
		{ sub(/\r$/, "") }
		/^$/ { flush(); exit }
		/^[ \t]/ { if (cur != "") { l = $0; sub(/^[ \t]+/, "", l); sub(/[ \t]+$/, "", cur); cur = cur " " l } next }
		{ flush(); cur = $0 }
		END { flush() }' "$1"
}
# body FILE: everything after the header section.
body() { sed '1,/^$/d' "$1"; }
# the CRLF file $1 with LF line ends
lf() { perl -pe 's/\r\n\z/\n/' "$1"; }

# entity NAME: the MIME entity of msg/NAME.eml as the milter must encrypt
# it: its Content-* header fields (folding kept) + CRLF + the body.
entity() {
	perl -0777 -ne '
		my ($h, $b) = /\A(.*?\r\n)\r\n(.*)\z/s or die "no header/body split";
		my @f;
		for my $l (split /(?<=\r\n)/, $h) {
			if ($l =~ /^[ \t]/ && @f) { $f[-1] .= $l } else { push @f, $l }
		}
		print grep({ /^Content-/i } @f), "\r\n", $b;
	' "$work/msg/$1.eml" >"$work/msg/$1.entity"
}

# decrypt FILE KEYNAME OUT: openssl cms over the base64 body of a delivered
# message with certs/KEYNAME.{key,pem}.
decrypt() {
	body "$1" | base64 -d >"$3.der" 2>/dev/null || return 1
	openssl cms -decrypt -binary -inform DER -in "$3.der" \
		-inkey "$certs/$2.key" -recip "$certs/$2.pem" -out "$3" 2>"$3.err"
}
# same_file A B: byte-exact, with a hint on failure
same_file() {
	if cmp -s "$1" "$2"; then return 0; fi
	echo "# $1 and $2 differ: $(cmp "$1" "$2" 2>&1 | head -n1)"
	echo "# sizes $(stat -c %s "$1" 2>/dev/null) vs $(stat -c %s "$2" 2>/dev/null)"
	return 1
}
# decrypts_to FILE KEYNAME NAME [TAG]: decrypt and compare with msg/NAME.entity
decrypts_to() {
	local o="$work/out/$3.${4:-$2}.dec"
	decrypt "$1" "$2" "$o" || { sed 's/^/# /' "$o.err" 2>/dev/null | head -5; return 1; }
	same_file "$o" "$work/msg/$3.entity"
}

# cms_to FILE NAME: the S/MIME body of FILE decrypts with alice's key
# alone (no -recip: the bench recipients' certificates, rcptNN, are on
# her key) to msg/NAME.entity.
cms_to() {
	body "$1" | base64 -d >"$work/out/$2.der" 2>/dev/null || return 1
	openssl cms -decrypt -binary -inform DER -in "$work/out/$2.der" \
		-inkey "$certs/alice.key" -out "$work/out/$2.dec" 2>"$work/out/$2.err" ||
		{ sed 's/^/# /' "$work/out/$2.err" | head -3; return 1; }
	same_file "$work/out/$2.dec" "$work/msg/$2.entity"
}
# note NAME TO TEXT: msg/NAME, a one-part text/plain message to TO
# whose body is TEXT, and its entity.
note() {
	msg "$1" "$2" <<EOF
MIME-Version: 1.0
Content-Type: text/plain; charset=us-ascii

$3
EOF
	entity "$1"
}

# The per-message log line(s) of queue id $2 in milter $1's log (other
# lines, e.g. a notice about a refused recipient, carry rcpt=, not rcpts=).
logline() { grep -F "queue_id=$2 " "$work/$1.log" | grep -F ' rcpts=' || true; }
# log_is MILTER NAME PATTERN: exactly one per-message line for this
# message's queue id, matching PATTERN.
log_is() {
	local l
	l=$(logline "$1" "$qid")
	is "$(printf '%s' "$l" | grep -c .)" 1 "  one log line for queue_id=$qid"
	like "$l" "$3" "  log: $3"
}

# unchanged FILE NAME: the delivered body is the sent one (LF line ends,
# as Postfix stores it).
unchanged() {
	body "$1" >"$work/out/$2.body"
	lf "$work/msg/$2.eml" | sed '1,/^$/d' >"$work/out/$2.sentbody"
	same_file "$work/out/$2.body" "$work/out/$2.sentbody"
}

# encrypted_ok FILE N CIPHER: the outer header of an encrypted message.
encrypted_ok() {
	local f=$1 n=$2 cipher=$3 type=enveloped-data
	[ "$cipher" = aes256-gcm ] && type=authEnveloped-data
	like "$(hdr "$f" Content-Type)" "^application/pkcs7-mime; *smime-type=$type; *name=\"?smime\.p7m\"?\$" \
		"  Content-Type: application/pkcs7-mime; smime-type=$type"
	is "$(hdr "$f" Content-Type | wc -l)" 1 "  one Content-Type (the original one removed)"
	is "$(hdr "$f" Content-Transfer-Encoding)" base64 "  Content-Transfer-Encoding: base64"
	like "$(hdr "$f" Content-Disposition)" '^attachment; *filename="?smime\.p7m"?$' \
		"  Content-Disposition: attachment; filename=smime.p7m"
	is "$(hdr "$f" MIME-Version)" 1.0 "  one MIME-Version: 1.0"
	is "$(hdr "$f" X-Smilla)" "encrypted smime; recipients=$n; cipher=$cipher; authserv=mx.smilla.test" \
		"  X-Smilla: encrypted smime; recipients=$n"
}
# plaintext_ok FILE NAME REASON N K: passed unencrypted with status header
plaintext_ok() {
	is "$(hdr "$1" X-Smilla)" "plaintext; reason=$3; recipients=$4; keys=$5; authserv=mx.smilla.test" \
		"  X-Smilla: plaintext; reason=$3; recipients=$4; keys=$5"
	check "  body unchanged" unchanged "$1" "$2"
	is "$(hdr "$1" Content-Type)" "$(hdr "$work/msg/$2.eml" Content-Type | tr -d '\r')" \
		"  Content-Type unchanged"
}
# untouched_ok FILE FORMAT: already encrypted, one recipient: only our
# status header, the forged one gone.
untouched_ok() {
	is "$(hdr "$1" X-Smilla)" "untouched; reason=already-encrypted; format=$2; recipients=1; authserv=mx.smilla.test" \
		"  X-Smilla: untouched; reason=already-encrypted; format=$2 (the forged one removed)"
}
# headers_kept FILE NAME: display/routing headers as sent
headers_kept() {
	local h ok=0
	for h in From To Subject Date Message-ID; do
		if [ "$(hdr "$1" "$h")" != "$(hdr "$work/msg/$2.eml" "$h" | tr -d '\r')" ]; then
			echo "# header $h: '$(hdr "$1" "$h")'"
			ok=1
		fi
	done
	return $ok
}


# Test messages for msg's stdin (header lines, an empty line, the body):
#   eightbit_msg    text/plain, 8bit: Latin-1 and UTF-8 octets, "From "
#                   and dot lines, an armor line, 900 octets in one line,
#                   empty lines, a trailing tab
#   multipart_msg   multipart/mixed: multipart/alternative, then two
#                   attachments, one 300 KB of random octets in base64
#                   (msg/attach.bin, made here), and an epilogue
#   big_msg         about 20 MB: 15 MB of random octets in base64
# attachment_ok FILE: the random.bin attachment of the decrypted
# multipart_msg in FILE decodes to msg/attach.bin.
eightbit_msg() {
	printf 'MIME-Version: 1.0\nContent-Type: text/plain; charset=iso-8859-1\n'
	printf 'Content-Transfer-Encoding: 8bit\n\n'
	printf 'Gr\374\337e aus K\366ln, \351t\351, na\357ve, \244 \260 \377\n'
	printf 'UTF-8 too: \303\244\303\266\303\274 \342\202\254 \360\237\224\222\n'
	printf 'From the start of a line\n'
	printf -- '-----BEGIN PGP MESSAGE-----\n'
	printf '.leading dot\n'
	printf '..two dots\n'
	printf '.\n'
	printf 'long: %s\n' "$(head -c 900 /dev/zero | tr '\0' 'x')"
	printf '\n\n'
	printf 'after empty lines, trailing tab\t\n'
}
multipart_msg() {
	head -c 300000 /dev/urandom >"$work/msg/attach.bin"
	cat <<'EOM'
MIME-Version: 1.0
Content-Type: multipart/mixed;
	boundary="outer-boundary"
Content-Language: en

This is a multi-part message in MIME format.
--outer-boundary
Content-Type: multipart/alternative; boundary="inner-boundary"

--inner-boundary
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable

See the attachments =E2=80=93 random octets and a text.
--inner-boundary
Content-Type: text/html; charset=utf-8

<p>See the attachments.</p>
--inner-boundary--

--outer-boundary
Content-Type: application/octet-stream; name="random.bin"
Content-Transfer-Encoding: base64
Content-Disposition: attachment; filename="random.bin"

EOM
	base64 -w 76 "$work/msg/attach.bin"
	cat <<'EOM'
--outer-boundary
Content-Type: text/plain; charset=us-ascii; name="notes.txt"
Content-Disposition: attachment; filename="notes.txt"

A second attachment.
--outer-boundary--
epilogue
EOM
}
attachment_ok() {
	sed -n '/^Content-Disposition: attachment; filename="random.bin"/,/^--outer-boundary/p' "$1" |
		sed '1,/^\r$/d; /^--outer/d; /^\r$/d' | tr -d '\r' | base64 -d | cmp -s - "$work/msg/attach.bin"
}
big_msg() {
	cat <<'EOM'
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="big-boundary"

--big-boundary
Content-Type: text/plain; charset=us-ascii

About 20 MB follow.
--big-boundary
Content-Type: application/octet-stream; name="big.bin"
Content-Transfer-Encoding: base64

EOM
	head -c 15000000 /dev/urandom | base64 -w 76
	printf '\n--big-boundary--\n'
}

# OpenPGP (PGP/MIME, RFC 3156), in gpg homes $work/g/TAG (short: gpg-agent's
# socket lives in them; the caller makes them, mode 700, and imports the
# keys):
#   gpg_in TAG gpg-args...          gpg in $work/g/TAG, no terminal
#   pgp_ok FILE N                   the outer header and body of smilla's
#                                   PGP/MIME, encrypted to N recipients
#   gpg_decrypt FILE TAG OUT / gpg_decrypts_to FILE TAG NAME
# agents_kill: stop the gpg-agents of the homes $work/g/TAG, TAG in $HOMES.
agents_kill() {
	local h
	for h in $HOMES; do
		[ -d "$work/g/$h" ] && GNUPGHOME="$work/g/$h" gpgconf --kill all >/dev/null 2>&1 || true
	done
}
gpg_in() {
	local h=$1
	shift
	gpg --homedir "$work/g/$h" --batch --no-tty --pinentry-mode loopback "$@"
}
# pgp_ok FILE N: the delivered message is PGP/MIME (RFC 3156) as
# smilla.8 has it, encrypted to N recipients: the outer header, and a
# body of exactly the two parts, nothing before or after them.
pgp_ok() {
	local f=$1 n=$2 b
	like "$(hdr "$f" Content-Type)" '^multipart/encrypted; protocol="application/pgp-encrypted"; boundary="smilla-pgp-[0-9a-f]{32}"$' \
		"  Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\""
	is "$(hdr "$f" Content-Type | wc -l)" 1 "  one Content-Type (the original one removed)"
	is "$(hdr "$f" Content-Transfer-Encoding)$(hdr "$f" Content-Disposition)" "" \
		"  no Content-Transfer-Encoding, no Content-Disposition"
	is "$(hdr "$f" MIME-Version)" 1.0 "  one MIME-Version: 1.0"
	is "$(hdr "$f" X-Smilla)" "encrypted pgp; recipients=$n; cipher=aes256; authserv=mx.smilla.test" \
		"  X-Smilla: encrypted pgp; recipients=$n; cipher=aes256"
	b=$(hdr "$f" Content-Type | sed -n 's/.*boundary="\([^"]*\)".*/\1/p')
	check "  body: the control part, the armored message, nothing else" \
		pgp_parts "$f" "$b"
}
# pgp_parts FILE BOUNDARY: the body is the two parts of smilla.8's
# PGP/MIME, LF line ends (as Postfix stores it), one armor block of
# base64 lines (and the checksum, "=XXXX") between them.
pgp_parts() {
	[ -n "$2" ] || { echo "# no boundary"; return 1; }
	body "$1" | perl -0777 -e '
		my $b = shift;
		local $_ = <STDIN>;
		my $head = "--$b\n" .
			"Content-Type: application/pgp-encrypted\n" .
			"Content-Description: PGP/MIME version identification\n\n" .
			"Version: 1\n\n" .
			"--$b\n" .
			"Content-Type: application/octet-stream; name=\"encrypted.asc\"\n" .
			"Content-Description: OpenPGP encrypted message\n" .
			"Content-Disposition: inline; filename=\"encrypted.asc\"\n\n" .
			"-----BEGIN PGP MESSAGE-----\n\n";
		my $tail = "-----END PGP MESSAGE-----\n\n--$b--\n";
		my $why;
		if (substr($_, 0, length $head) ne $head) {
			$why = "the parts before the armor differ from smilla.8";
		} elsif (length($_) < length($head) + length($tail) ||
			 substr($_, -length $tail) ne $tail) {
			$why = "the end is not the armor, an empty line and the close delimiter";
		} else {
			my $armor = substr($_, length $head, -length $tail);
			my @a = split /\n/, $armor, -1;
			pop @a;	# after the last "\n"
			pop @a if @a && $a[-1] =~ m{\A=[A-Za-z0-9+/]{4}\z};	# CRC
			$why = "a line in the armor that is not base64"
				if !@a || grep { !m{\A[A-Za-z0-9+/]{1,76}={0,2}\z} } @a;
		}
		exit 0 unless $why;
		my @l = split /\n/;
		printf "# %s; %d lines, first %s, last %s\n", $why, scalar @l, $l[0] // "", $l[-1] // "";
		exit 1;
	' "$2"
}
# gpg_decrypt FILE TAG OUT: gpg --decrypt the delivered file as it is
# (smilla.8: "gpg --decrypt MESSAGE") with TAG's secret key alone.
gpg_decrypt() {
	gpg_in "$2" --status-file "$3.status" --decrypt "$1" >"$3" 2>"$3.err"
}
# gpg_decrypts_to FILE TAG NAME: decrypts byte-exact to msg/NAME.entity,
# AES-256 with MDC and no AEAD (DECRYPTION_INFO 2 9 0).
gpg_decrypts_to() {
	local o="$work/out/$3.$2.dec"
	gpg_decrypt "$1" "$2" "$o" || { sed 's/^/#   gpg: /' "$o.err" | head -5; return 1; }
	grep -q '^\[GNUPG:\] DECRYPTION_INFO 2 9 0$' "$o.status" ||
		{ echo "# not AES-256 with MDC: $(grep DECRYPTION_INFO "$o.status")"; return 1; }
	same_file "$o" "$work/msg/$3.entity"
}
