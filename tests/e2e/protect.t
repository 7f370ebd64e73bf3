#!/bin/bash
# Header protection (RFC 9788) end to end: a real Postfix (throwaway
# instance, tests/e2e/postfix.sh) calls one smilla milter with
# header_protection = yes, swaks sends, the DNSSEC test bed publishes
# the keys, and what is delivered is decrypted with openssl and gpgsm
# (S/MIME, alice) and gpg (PGP/MIME, bob).  As delivered, the Subject
# is [...] and the real one is nowhere in the file; decrypted, the
# payload holds it as a protected header field, in HP-Outer the
# [...] the outside shows, and at the start of the text (and of the
# HTML) the Legacy Display Element.
set -eu
export LC_ALL=C
. "$(dirname "$0")/../lib/tap.sh"
require_bed
. "$(dirname "$0")/../lib/mta.sh"
mta_setup protect
pf="$work/pf"
gnupg="$work/gnupg"
pgp="$work/pgp"
MILTERS="p"
declare -A mpid=()
. "$here/../lib/mail.sh"

cleanup() {
	"$PF_SH" stop "$pf" >/dev/null 2>&1 || true
	milters_kill
	local g
	for g in "$gnupg" "$pgp"; do
		[ -d "$g" ] && GNUPGHOME="$g" gpgconf --kill all >/dev/null 2>&1 || true
	done
}
trap cleanup EXIT

# ------------------------------------------------------------ milter, Postfix

: >"$work/p-require.tbl"
milter_conf p "local_domains = mx.smilla.test" "header_protection = yes"
milters_start || { done_testing; exit 1; }
export PF_EXTRA_DOMAINS="smilla.test"
postfix_start || { done_testing; exit 1; }

mkdir -p "$gnupg" "$pgp"
chmod 700 "$gnupg" "$pgp"
GNUPGHOME="$gnupg" gpgsm --batch --pinentry-mode loopback --passphrase '' \
	--import "$certs/alice.p12" >"$work/gpgsm-import.log" 2>&1 && rc=0 || rc=$?
is "$rc" 0 "gpgsm imports alice.p12"
GNUPGHOME="$pgp" gpg --batch --no-tty --import "$BED_DIR/keys/bob-secret.pgp" \
	>"$work/gpg-import.log" 2>&1 && rc=0 || rc=$?
is "$rc" 0 "gpg imports bob's secret key"

# ------------------------------------------------------------------ helpers

total=0

# protected NAME TO SUBJECT: msg/NAME.eml from stdin (header lines after
# the standard ones, an empty line, the body; LF line ends made CRLF)
# with SUBJECT (as written in the header) for a subject, and its .wire.
protected() {
	local name=$1 to=$2 subject=$3
	{
		printf 'From: Sender <sender@client.test>\n'
		printf 'To: %s\n' "$to"
		printf 'Cc: Other <other@client.test>\n'
		printf 'Subject: %s\n' "$subject"
		printf 'Date: %s\n' "$(date -R)"
		printf 'Message-ID: <%s.%s@client.test>\n' "$name" "$$"
		printf 'Keywords: secret-keyword-%s\n' "$name"
		cat
	} | perl -pe 's/\r?\n\z/\r\n/' >"$work/msg/$name.eml"
	wire "$name"
}

# deliver_one NAME TO WHAT: send msg/NAME, check it is accepted and
# delivered; M its path, found by Message-ID (the Subject is [...]).
deliver_one() {
	send "$1" "$2"
	is "$rc" 0 "$3: accepted"
	total=$((total + 1))
	m=$(delivered_with "Message-ID: <$1.$$@client.test>" 1) || true
	check "  delivered" [ -s "$m" ]
}

# crlf_body FILE: what follows the header section of a CRLF file.
crlf_body() { perl -0777 -pe 's/\A.*?\r?\n\r?\n//s' "$1"; }

# outside_ok FILE NAME SECRET: the delivered header as hcp_baseline
# leaves it: Subject [...], Keywords gone, From/To/Cc/Date/Message-ID
# as sent; SECRET (the subject's text) nowhere in the file.
outside_ok() {
	local f=$1 n=$2 secret=$3 h
	is "$(hdr "$f" Subject)" "[...]" "  delivered Subject: [...]"
	is "$(hdr "$f" Subject | wc -l)" 1 "  one Subject line"
	check "  the original Subject nowhere in the delivered file" \
		sh -c "! grep -qF -- '$secret' '$f'"
	is "$(hdr "$f" Keywords)" "" "  Keywords removed outside"
	for h in From To Cc Date Message-ID; do
		is "$(hdr "$f" "$h")" "$(hdr "$work/msg/$n.eml" "$h" | tr -d '\r')" \
			"  $h as sent"
	done
}

# inside_ok PAYLOAD NAME SUBJECT: the decrypted payload's header holds
# the protected fields as sent, hp="cipher" and HP-Outer lines.
inside_ok() {
	local p=$1 n=$2 subject=$3 h
	is "$(hdr "$p" Subject)" "$subject" "  inside: the original Subject"
	for h in From To Cc Date Message-ID Keywords; do
		is "$(hdr "$p" "$h")" "$(hdr "$work/msg/$n.eml" "$h" | tr -d '\r')" \
			"  inside: $h as sent"
	done
	like "$(hdr "$p" Content-Type | head -n1)" '; hp="cipher"' \
		"  inside: Content-Type with hp=\"cipher\""
	check "  inside: HP-Outer: Subject: [...]" \
		grep -qx 'HP-Outer: Subject: \[\.\.\.\]' <(tr -d '\r' <"$p")
	check "  inside: HP-Outer: From as outside" \
		grep -qxF "HP-Outer: From: $(hdr "$work/msg/$n.eml" From | tr -d '\r')" \
		<(tr -d '\r' <"$p")
	check "  inside: no HP-Outer for Keywords (removed outside)" \
		sh -c "! grep -qi '^HP-Outer: Keywords' '$p'"
	check "  inside: no Received, no X-Smilla" \
		sh -c "! grep -qiE '^(Received|X-Smilla):' '$p'"
}

# ------------------------------------------------------------------ 1. S/MIME, alice

subject="protect-alice: the quarterly figures"
protected alice alice@smilla.test "$subject" <<'EOF'
MIME-Version: 1.0
Content-Type: text/plain; charset=us-ascii; format=flowed
Content-Transfer-Encoding: 7bit

Hello Alice,

the figures are attached in spirit.
EOF
deliver_one alice alice@smilla.test "alice (S/MIME)"
outside_ok "$m" alice "$subject"
like "$(hdr "$m" X-Smilla)" '^encrypted smime; recipients=1;' "  X-Smilla: encrypted smime"
decrypt "$m" alice "$work/out/alice.dec" && rc=0 || rc=$?
is "$rc" 0 "  openssl cms -decrypt (alice.key)"
inside_ok "$work/out/alice.dec" alice "$subject"
like "$(hdr "$work/out/alice.dec" Content-Type)" 'hp-legacy-display="1"' \
	"  inside: the text part marked hp-legacy-display=\"1\""
printf 'Subject: %s\r\n\r\n' "$subject" >"$work/out/alice.want"
crlf_body "$work/msg/alice.eml" >>"$work/out/alice.want"
crlf_body "$work/out/alice.dec" >"$work/out/alice.got"
check "  inside: the Legacy Display Element, an empty line, then the text as sent" \
	same_file "$work/out/alice.got" "$work/out/alice.want"
body "$m" | base64 -d >"$work/out/alice.der" 2>/dev/null || true
GNUPGHOME="$gnupg" gpgsm --batch --pinentry-mode loopback --passphrase '' \
	--decrypt "$work/out/alice.der" >"$work/out/alice.gpgsm" \
	2>"$work/out/alice.gpgsm.err" && rc=0 || rc=$?
check "  gpgsm --decrypt gives the same payload" \
	eval '[ "$rc" -eq 0 ] && same_file "$work/out/alice.gpgsm" "$work/out/alice.dec"'
log_is p alice ' rcpts=alice@smilla\.test:secure action=encrypted hp=cipher legacy=1 size='

# ------------------------------------------------------------------ 2. PGP/MIME, bob

# "Geheime Grüße" as an encoded word; both alternatives get the element.
subject='=?UTF-8?Q?Geheime_Gr=C3=BC=C3=9Fe?='
shown=$(printf 'Geheime Gr\303\274\303\237e')
protected bob bob@smilla.test "$subject" <<'EOF'
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="=_alt"

--=_alt
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable

Hallo Bob, gr=C3=BC=C3=9Fe.
--=_alt
Content-Type: text/html; charset=utf-8
Content-Transfer-Encoding: 8bit

<html><head><title></title></head><body>
<p>Hallo Bob</p>
</body></html>
--=_alt--
EOF
deliver_one bob bob@smilla.test "bob (PGP/MIME)"
outside_ok "$m" bob "Geheime"
like "$(hdr "$m" Content-Type)" '^multipart/encrypted; protocol="application/pgp-encrypted"' \
	"  Content-Type: multipart/encrypted (PGP/MIME)"
body "$m" | GNUPGHOME="$pgp" gpg -q --batch --no-tty --decrypt \
	>"$work/out/bob.dec" 2>"$work/out/bob.err" && rc=0 || rc=$?
is "$rc" 0 "  gpg --decrypt (bob's key)"
[ "$rc" -eq 0 ] || sed 's/^/#   gpg: /' "$work/out/bob.err" | head -5
inside_ok "$work/out/bob.dec" bob "$subject"
tr -d '\r' <"$work/out/bob.dec" >"$work/out/bob.lf"
check "  text part: marked, and the element quoted-printable before the text" \
	perl -0777 -ne 'exit !/Content-Type: text\/plain; charset=utf-8; hp-legacy-display="1"\nContent-Transfer-Encoding: quoted-printable\n\nSubject: Geheime Gr=C3=BC=C3=9Fe\n\nHallo Bob, gr=C3=BC=C3=9Fe\.\n--=_alt\n/' "$work/out/bob.lf"
check "  HTML part: marked, the div right after <body>" \
	perl -0777 -ne 'exit !/Content-Type: text\/html; charset=utf-8; hp-legacy-display="1"\n.*<body>\n<div class="header-protection-legacy-display">\n<pre>Subject: Geheime Gr&#252;&#223;e<\/pre>\n<\/div>\n<p>Hallo Bob<\/p>/s' "$work/out/bob.lf"
check "  the original Subject decoded nowhere outside" \
	sh -c "! grep -qF -- '$shown' '$m'"
log_is p bob ' rcpts=bob@smilla\.test:secure action=encrypted hp=cipher legacy=2 size='

# ------------------------------------------------------------------ 3. signed: left unprotected

subject="protect-signed: stays visible"
protected signed alice@smilla.test "$subject" <<'EOF'
MIME-Version: 1.0
Content-Type: multipart/signed; protocol="application/pkcs7-signature";
	micalg=sha-256; boundary="=_sig"

--=_sig
Content-Type: text/plain; charset=us-ascii

Signed by the sender: the signature covers this part only.
--=_sig
Content-Type: application/pkcs7-signature; name=smime.p7s
Content-Transfer-Encoding: base64

AAAA
--=_sig--
EOF
entity signed
deliver_one signed alice@smilla.test "multipart/signed to alice"
is "$(hdr "$m" Subject)" "$subject" "  Subject left as it was (no header protection)"
is "$(hdr "$m" Keywords)" "secret-keyword-signed" "  Keywords left too"
check "  alice decrypts the entity as it came" decrypts_to "$m" alice signed
log_is p signed ' action=encrypted hp=none hp_why="signed \(multipart/signed\)" size='

# ------------------------------------------------------------------ the end

mta_end "$total"
for g in "$gnupg" "$pgp"; do
	GNUPGHOME="$g" gpgconf --kill all >/dev/null 2>&1 || true
done
nothing_left "milter, Postfix, gpg-agent"
echo "# protect.t: $(awk -v a="$t_start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }') s"
trap - EXIT
done_testing
