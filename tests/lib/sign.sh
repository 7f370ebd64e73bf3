# tests/lib/sign.sh - signed test messages for the milter's end-to-end
# tests (issue 12): the senders of tests/bed/bed.sh's header comment sign
# with openssl cms, gpgsm and gpg; and the Authentication-Results a pass
# must get.  Sourced after tests/lib/mail.sh, with these set by the
# caller:
#   work, certs, keys  as for mail.sh (msg/ and out/ are used)
#   sm      gpgsm's home (gpgsm_sign), the senders' .p12 imported
#   pg      gpg's home (gpg_sign), the senders' secret keys imported
#   RCPT    the To: of the messages
#   AUTHSERV  the milter's authserv_id
#   EXTRA   header lines assemble puts in (LF-separated; may be empty)
#
#   part NAME > msg/NAME.part        the entity that is signed
#   cms_sign / gpgsm_sign / gpg_sign  sign msg/NAME.part into msg/NAME.sig
#   entity_of KIND NAME              the signed entity (smime, opaque, pgp)
#   signed_entity KIND BOUNDARY BASE the same of BASE.part and BASE.sig
#   assemble NAME FROM KIND [mixed]  msg/NAME.eml and .wire
#   re TEXT / serial CERT / fpr TAG  an ERE, a serial, a fingerprint
#   smime_pass CERT ADDRESS [PART] / pgp_pass TAG ADDRESS [PART]
#                                    the ERE of a pass's header value

# shellcheck disable=SC2154 # the caller sets them (see above)
# part NAME: msg/NAME.part, the entity that is signed: 8-bit UTF-8,
# trailing blanks, a line that is a dot, a "From " line, CRLF.
part() {
	printf 'Content-Type: text/plain; charset=utf-8\r\n'
	printf 'Content-Transfer-Encoding: 8bit\r\n\r\n'
	printf 'Gr\303\274\303\237e aus K\303\266ln (%s).\r\n' "$1"
	printf 'Trailing blanks stay:   \r\n\ta tab-indented line\r\n'
	printf '.\r\n..two dots\r\nFrom the start of a line\r\n-- \r\nsender\r\n'
}

# Signatures of msg/NAME.part into msg/NAME.sig: DER for S/MIME,
# armored for OpenPGP.  Opaque ones hold the part.
cms_sign() { # NAME CERT [openssl cms options]: detached, or opaque with -nodetach
	local n=$1 c=$2
	shift 2
	openssl cms -sign -binary -md sha256 -in "$work/msg/$n.part" \
		-signer "$certs/$c.pem" -inkey "$certs/$c.key" -outform DER \
		-out "$work/msg/$n.sig" "$@" 2>"$work/out/$n.sign.err"
}
gpgsm_sign() { # NAME ADDRESS --detach-sign|--sign
	GNUPGHOME="$sm" gpgsm --batch --pinentry-mode loopback --passphrase '' \
		--disable-crl-checks --disable-policy-checks --include-certs 1 \
		-u "$2" "$3" -o "$work/msg/$1.sig" "$work/msg/$1.part" 2>"$work/out/$1.sign.err"
}
gpg_sign() { # NAME TAG [gpg options]: armored, detached, over the octets as they are
	local n=$1 t=$2
	shift 2
	gpg --homedir "$pg" --batch --no-tty --pinentry-mode loopback --passphrase '' \
		-u "$(cat "$keys/$t.fpr")!" "$@" --armor --detach-sign \
		-o "$work/msg/$n.sig" "$work/msg/$n.part" 2>"$work/out/$n.sign.err"
}

# entity_of KIND NAME: the Content-Type header and body of the signed
# entity of msg/NAME.part and msg/NAME.sig: KIND smime (detached),
# opaque, or pgp; the signed part put in exactly as it was signed.
entity_of() { signed_entity "$1" "=-signed-$2" "$work/msg/$2"; }

# signed_entity KIND BOUNDARY BASE: the same of BASE.part and BASE.sig
# (the benchmark's messages too).
signed_entity() {
	local b=$2 f=$3
	case $1 in
	smime)
		printf 'Content-Type: multipart/signed; protocol="application/pkcs7-signature";\r\n'
		printf '\tmicalg=sha-256; boundary="%s"\r\n\r\n' "$b"
		printf 'This is an S/MIME signed message\r\n\r\n--%s\r\n' "$b"
		cat "$f.part"
		printf '\r\n--%s\r\nContent-Type: application/pkcs7-signature; name="smime.p7s"\r\n' "$b"
		printf 'Content-Transfer-Encoding: base64\r\n'
		printf 'Content-Disposition: attachment; filename="smime.p7s"\r\n\r\n'
		base64 -w 76 "$f.sig" | sed 's/$/\r/'
		printf -- '--%s--\r\n' "$b"
		;;
	opaque)
		printf 'Content-Type: application/pkcs7-mime; smime-type=signed-data;\r\n'
		printf '\tname="smime.p7m"\r\nContent-Transfer-Encoding: base64\r\n'
		printf 'Content-Disposition: attachment; filename="smime.p7m"\r\n\r\n'
		base64 -w 76 "$f.sig" | sed 's/$/\r/'
		;;
	pgp)
		printf 'Content-Type: multipart/signed; micalg=pgp-sha256;\r\n'
		printf '\tprotocol="application/pgp-signature"; boundary="%s"\r\n\r\n' "$b"
		printf 'This is an OpenPGP/MIME signed message (RFC 4880 and 3156)\r\n--%s\r\n' "$b"
		cat "$f.part"
		printf '\r\n--%s\r\nContent-Type: application/pgp-signature; name="signature.asc"\r\n' "$b"
		printf 'Content-Description: OpenPGP digital signature\r\n'
		printf 'Content-Disposition: attachment; filename="signature.asc"\r\n\r\n'
		sed 's/$/\r/' "$f.sig"
		printf '\r\n--%s--\r\n' "$b"
		;;
	esac
}

# assemble NAME FROM KIND [mixed]: msg/NAME.eml (and .wire), From: FROM
# (the whole field value), the header lines of $EXTRA (LF-separated)
# after Message-ID, the entity of KIND on top or as part 1 of a
# multipart/mixed with a footer (as mailing lists add them).
assemble() {
	local n=$1 from=$2 kind=$3 mixed=${4:-} o="=-mixed-$1"
	{
		printf 'From: %s\r\nTo: %s\r\nSubject: milter-%s\r\n' "$from" "$RCPT" "$n"
		printf 'Date: %s\r\nMessage-ID: <%s.%s@client.test>\r\n' "$(date -R)" "$n" "$$"
		[ -n "${EXTRA:-}" ] && printf '%s\n' "$EXTRA" | sed 's/$/\r/'
		printf 'MIME-Version: 1.0\r\n'
		if [ -z "$mixed" ]; then
			entity_of "$kind" "$n"
		else
			printf 'Content-Type: multipart/mixed; boundary="%s"\r\n\r\n--%s\r\n' "$o" "$o"
			entity_of "$kind" "$n"
			printf '\r\n--%s\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n' "$o"
			printf -- '--\r\nlist footer: unsubscribe at https://lists.example/\r\n--%s--\r\n' "$o"
		fi
	} >"$work/msg/$n.eml"
	wire "$n"
}

re() { printf '%s' "$1" | sed 's/[].[*^$()+?{}|\\]/\\&/g'; } # an ERE for the text $1
serial() { openssl x509 -in "$certs/$1.pem" -noout -serial | sed 's/^serial=0*//; s/^$/0/'; }
issuer='"CN=Smilla Test CA"'
fpr() { cat "$keys/$1.fpr"; }
# The Authentication-Results of a pass: method, identity, properties.
smime_pass() { # CERT ADDRESS [PART]
	printf '%s; smime=pass body\\.smime-identifier=%s%s body\\.smime-serial=%s body\\.smime-issuer=%s' \
		"$(re $AUTHSERV)" "$(re "$2")" "${3:+ body\\.smime-part=$3}" "$(serial "$1")" "$(re "$issuer")"
}
pgp_pass() { # TAG ADDRESS [PART]
	printf '%s; x-pgp=pass header\\.from=%s%s body\\.x-pgp-fingerprint=%s' \
		"$(re $AUTHSERV)" "$(re "$2")" "${3:+ body\\.x-pgp-part=$3}" "$(fpr "$1")"
}
