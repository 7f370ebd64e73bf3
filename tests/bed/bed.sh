#!/bin/bash
# DNSSEC test bed for smilla.
#
#   tests/bed/bed.sh start DIR   generate certs, keys and signed zones into DIR,
#                                start NSD and a blackhole DNS server on free
#                                loopback ports, write DIR/bed.env etc.
#   tests/bed/bed.sh stop DIR    stop everything "start DIR" started.
#
# Needs: nsd, ldnsutils (ldns-keygen, ldns-signzone, ldns-key2ds, drill),
# openssl, gnupg, perl, iproute2 (ss), util-linux (setsid).
# Nothing generated here is meant to be committed.
#
# OpenPGP recipients (make_pgp, published as OPENPGPKEY in make_zones),
# one gpg key each, made at start; TAG address: what the record holds.
#   bob      bob@smilla.test       ed25519 primary, cv25519 encryption subkey
#   rsa      rsa@smilla.test       RSA-3072 primary that also encrypts (SCE),
#                                  no subkey
#   expired  expired@smilla.test   its only encryption subkey (cv25519) has
#                                  expired: made 400 days ago, valid 1 year
#   soon     soon@smilla.test      its only encryption subkey (cv25519)
#                                  expires in 10 days
#   revoked  revoked@smilla.test   cv25519 subkey; the key's revocation is
#                                  in the record
#   signonly signonly@smilla.test  ed25519 cert,sign, no encryption key
#   wronguid wronguid@smilla.test  valid cv25519 key whose only user ID is
#                                  <someone@elsewhere.test>
#   carol    carol@smilla.test     cv25519; carol has an SMIMEA record too
#   upper    Upper@smilla.test     cv25519, user ID <Upper@smilla.test>,
#                                  published only under the hash of "upper"
#                                  (as GnuPG does): mail to it finds the key
#                                  through the lowercased local part
#   insecure pgp@insecure.smilla.test  cv25519, in the unsigned zone
#   bogus    pgp@bogus.smilla.test     cv25519, in the zone whose
#                                  signatures have expired
#   revsig   revsig@smilla.test    ed25519 primary (signs), cv25519 subkey,
#                                  made 2 days ago and revoked 1 day ago;
#                                  the revocation is in the record, and
#                                  keys/revsig-secret.pgp is the key as it
#                                  was before (sign with gpg
#                                  --faked-system-time within that day)
# and one key that is not published (PGP_UNPUBLISHED):
#   impostor bob@smilla.test       ed25519 + cv25519, user ID
#                                  "Impostor <bob@smilla.test>": claims bob's
#                                  address, in no record
# Files: keys/TAG.pgp (the record's RDATA, as gpg --export gives it),
# keys/TAG-secret.pgp (secret key, no passphrase: import it for gpg
# --decrypt or --detach-sign), keys/TAG.fpr (primary fingerprint,
# uppercase hex).  bed.env has each address as PGP_<TAG> (TAG in
# uppercase) and the published tags as PGP_TAGS.
#
# S/MIME senders, for signature verification (make_certs, make_zones),
# all issued by the test CA (certs/ca.pem) for the address given, with
# digitalSignature and emailProtection; certs/NAME.{pem,key,der}:
#   alice    alice@smilla.test     SMIMEA 3 0 0 (the certificate), RSA;
#                                  also a recipient (above)
#   frank    frank@smilla.test     SMIMEA 3 1 1 (SHA-256 of the
#                                  SubjectPublicKeyInfo), RSA
#   impostor alice@smilla.test     not published: claims alice's address
#                                  with a key of its own (EC)
#   ivan     ivan@insecure.smilla.test  SMIMEA 3 0 0 in the unsigned zone
#   eve      eve@bogus.smilla.test      SMIMEA 3 0 0 in the bogus zone
#   nora     nora@smilla.test      no record at all (EC)
#   sam      sam@slow.smilla.test  a zone whose server never answers (EC)
# alice.p12 and frank.p12 (no password) are for gpgsm --import; gpgsm
# signs only with a trusted chain: put certs/ca.sha1 (the CA's SHA-1
# fingerprint, colon hex) with " S relax" into GNUPGHOME/trustlist.txt.
# bed.env has each sender's address as SIGNER_<NAME>.
# For the benchmark, not fixtures: pgp01..pgp10@smilla.test, a cv25519 key
# each (keys/pgpNN.pgp, their secret keys in keys/bench-secret.pgp), and
# the S/MIME rcpt01..rcpt10@smilla.test, a certificate each on alice's
# key (certs/rcptNN.der); bed.env lists them as BENCH_PGP_RCPTS and
# BENCH_RCPTS.
set -eu
umask 022

# alive, wait_gone, wait_reaped, pick_port
. "$(cd "$(dirname "${BASH_SOURCE[0]}")/../lib" && pwd)/proc.sh"

BED_SRC=$(cd "$(dirname "$0")" && pwd -P)
PROG=bed.sh
# S/MIME recipients beyond alice (make_certs, make_zones): certs/NAME.*
SMIME_MORE="carol dave sig pkix eve ivan"
# S/MIME senders beyond alice, ivan and eve (make_certs, make_zones):
# "NAME address" a line.
SMIME_SIGNERS="frank frank@smilla.test
impostor alice@smilla.test
nora nora@smilla.test
sam sam@slow.smilla.test"

die() {
	echo "$PROG: $*" >&2
	exit 1
}

usage() {
	echo "usage: $0 start|stop DIR" >&2
	exit 2
}

# ---------------------------------------------------------------- processes


# Live pids whose command line contains any of the given literal strings.
# One ps call (forking per /proc entry is slow here); the match is literal
# (awk index), not a pattern, and always names our DIR.
pids_mentioning() {
	ps -ww -eo pid=,args= | awk -v self="$$" '
		BEGIN { for (i = 1; i < ARGC; i++) want[i] = ARGV[i]; n = ARGC; ARGC = 1 }
		$1 != self { line = $0 " "; for (i = 1; i < n; i++) if (index(line, want[i])) { print $1; next } }
	' "$@"
}



stop_bed() {
	local d=$1 f p pids=""
	for f in nsd.pid blackhole.pid; do
		[ -s "$d/$f" ] || continue
		p=$(head -n1 "$d/$f" | tr -cd 0-9)
		# Only a process that names our DIR: the pid file may be stale and
		# the pid reused.
		if [ -n "$p" ] && pids_mentioning " $d/" | grep -qx "$p"; then
			pids="$pids $p"
		fi
	done
	# NSD's xfrd and server children carry the same argv (-c DIR/nsd.conf)
	# and would outlive a killed parent; a blackhole may have lost its pid
	# file.  Catch them all by their DIR-specific arguments.
	pids="$pids $(pids_mentioning " $d/nsd.conf " " $d/blackhole.pid " | tr '\n' ' ')"
	# shellcheck disable=SC2086 # split on purpose
	pids=$(printf '%s\n' $pids | sort -u | tr '\n' ' ')
	if [ -n "${pids// /}" ]; then
		# shellcheck disable=SC2086
		kill -TERM $pids 2>/dev/null || true
		if ! wait_gone "$pids" 50; then
			# shellcheck disable=SC2086
			kill -KILL $pids 2>/dev/null || true
			wait_gone "$pids" 50 || echo "$PROG: still running: $pids" >&2
		fi
		wait_reaped "$pids" 50
	fi
	rm -f "$d/nsd.pid" "$d/blackhole.pid" "$d/blackhole.pid.tmp"
	if [ -d "$d/gnupg" ] && command -v gpgconf >/dev/null 2>&1; then
		GNUPGHOME="$d/gnupg" gpgconf --kill all >/dev/null 2>&1 || true
	fi
	return 0
}

# ---------------------------------------------------------------- helpers

hex() { od -An -v -tx1 | tr -d ' \n'; }                     # stdin -> lowercase hex
upper() { tr a-f A-F; }
sha() { openssl dgst "-$1" -binary | hex; }                 # sha256|sha512
spki_der() { openssl x509 -in "$1" -noout -pubkey | openssl pkey -pubin -outform DER; }
cert_der() { openssl x509 -in "$1" -outform DER; }
# A DNS owner label for SMIMEA/OPENPGPKEY (RFC 8162/7929): first 28 octets
# of SHA-256 of the local part, as 56 lowercase hex digits.
local_part_hash() { printf '%s' "$1" | sha sha256 | cut -c1-56; }
# RFC 3597 generic rdata: "\# LEN HEX" for the bytes on stdin.
generic() {
	local h
	h=$(hex)
	printf '\\# %d %s' $((${#h} / 2)) "$h"
}
# smimea LOCALPART USAGE DER-FILE: an SMIMEA (type 53) "USAGE 0 0 <cert>"
# line for a zone file, generic syntax (any ldns takes it).
smimea() {
	printf '%s._smimecert	IN TYPE53	%s\n' "$(local_part_hash "$1")" \
		"$( { printf '%b\000\000' "\\00$2"; cat "$3"; } | generic)"
}


STEP=""
step() { STEP=$1; echo "== $1" >>"$LOG"; }

# ---------------------------------------------------------------- generation

make_certs() {
	local c="$DIR/certs"
	mkdir -p "$c"
	# One config with a section per certificate.  Our own config rather than
	# the system one keeps "req -x509" from adding its default v3_ca (CA:TRUE)
	# extensions to the self-signed end-entity certificates.
	cat >"$c/openssl.cnf" <<'EOF'
[req]
distinguished_name = dn
prompt = no
[dn]
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[good]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectAltName = DNS:good.smilla.test
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[other]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectAltName = DNS:other.smilla.test
subjectKeyIdentifier = hash
[self]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectAltName = DNS:self.smilla.test
subjectKeyIdentifier = hash
[ta]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectAltName = DNS:ta.smilla.test
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[alice]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = emailProtection
subjectAltName = email:alice@smilla.test
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
# The milter's other S/MIME recipients: a section each, named after the
# local part.
[carol]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = emailProtection
subjectAltName = email:carol@smilla.test
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[dave]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyAgreement
extendedKeyUsage = emailProtection
subjectAltName = email:dave@smilla.test
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[sig]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = emailProtection
subjectAltName = email:sig@smilla.test
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[pkix]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = emailProtection
subjectAltName = email:pkix@smilla.test
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[eve]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = emailProtection
subjectAltName = email:eve@bogus.smilla.test
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ivan]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = emailProtection
subjectAltName = email:ivan@insecure.smilla.test
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
# The benchmark's rcpt01..rcpt10: the address from the subject.
[rcpt]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = emailProtection
subjectAltName = email:copy
subjectKeyIdentifier = hash
EOF
	# The senders that sign (SMIME_SIGNERS): a section each, named after
	# the certificate.
	local n addr
	while read -r n addr; do
		printf '%s\n' "[$n]" 'basicConstraints = critical, CA:FALSE' \
			'keyUsage = critical, digitalSignature, nonRepudiation' \
			'extendedKeyUsage = emailProtection' \
			"subjectAltName = email:$addr" \
			'subjectKeyIdentifier = hash' 'authorityKeyIdentifier = keyid'
	done >>"$c/openssl.cnf" <<-EOF
	$SMIME_SIGNERS
	EOF
	local cnf="$c/openssl.cnf" ec="-newkey ec -pkeyopt ec_paramgen_curve:P-256"

	# CA and the two self-signed end entities.
	# shellcheck disable=SC2086
	openssl req -config "$cnf" -x509 $ec -nodes -days 3650 -set_serial 1 \
		-subj "/CN=Smilla Test CA" -extensions ca \
		-keyout "$c/ca.key" -out "$c/ca.pem"
	# shellcheck disable=SC2086
	openssl req -config "$cnf" -x509 $ec -nodes -days 365 -set_serial 2 \
		-subj "/CN=other.smilla.test" -extensions other \
		-keyout "$c/other.key" -out "$c/other.pem"
	# shellcheck disable=SC2086
	openssl req -config "$cnf" -x509 $ec -nodes -days 365 -set_serial 3 \
		-subj "/CN=self.smilla.test" -extensions self \
		-keyout "$c/self.key" -out "$c/self.pem"

	# CA-issued: client cert and the S/MIME cert.
	# shellcheck disable=SC2086
	openssl req -config "$cnf" -new $ec -nodes \
		-subj "/CN=good.smilla.test" -keyout "$c/good.key" -out "$c/good.csr"
	openssl x509 -req -in "$c/good.csr" -CA "$c/ca.pem" -CAkey "$c/ca.key" \
		-set_serial 4 -days 365 -sha256 -extfile "$cnf" -extensions good \
		-out "$c/good.pem"
	# A client of the DANE-TA record (_smtp-client.ta: 2 0 1 over the CA):
	# the name check of usage 2 needs its own name in the certificate.
	# shellcheck disable=SC2086
	openssl req -config "$cnf" -new $ec -nodes \
		-subj "/CN=ta.smilla.test" -keyout "$c/ta.key" -out "$c/ta.csr"
	openssl x509 -req -in "$c/ta.csr" -CA "$c/ca.pem" -CAkey "$c/ca.key" \
		-set_serial 6 -days 365 -sha256 -extfile "$cnf" -extensions ta \
		-out "$c/ta.pem"
	openssl req -config "$cnf" -new -newkey rsa:2048 -nodes \
		-subj "/CN=alice/emailAddress=alice@smilla.test" \
		-keyout "$c/alice.key" -out "$c/alice.csr"
	openssl x509 -req -in "$c/alice.csr" -CA "$c/ca.pem" -CAkey "$c/ca.key" \
		-set_serial 5 -days 365 -sha256 -extfile "$cnf" -extensions alice \
		-out "$c/alice.pem"
	rm -f "$c/good.csr" "$c/ta.csr" "$c/alice.csr"

	# The milter's recipients (SMIMEA records in make_zones).  carol has
	# her own RSA key and dave an EC one (both decrypt in the tests); the
	# certificates that must never be encrypted to (sig: no
	# keyEncipherment; pkix: usage 1 without a trusted CA; eve: bogus zone;
	# ivan: insecure zone) reuse alice's key: RSA key generation is the
	# slow part of "start".
	openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$c/carol.key"
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$c/dave.key"
	for n in sig pkix eve ivan; do cp "$c/alice.key" "$c/$n.key"; done
	# The senders that sign (SMIME_SIGNERS): frank has an RSA key of his
	# own (gpgsm 2.2 signs with RSA only), the others EC keys, quicker to
	# make.  Then every such certificate is issued by the CA.
	openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$c/frank.key"
	local serial=7
	while read -r n addr; do
		[ -s "$c/$n.key" ] || openssl genpkey -algorithm EC \
			-pkeyopt ec_paramgen_curve:P-256 -out "$c/$n.key"
		openssl req -config "$cnf" -new -key "$c/$n.key" \
			-subj "/CN=$n/emailAddress=$addr" -out "$c/$n.csr"
		openssl x509 -req -in "$c/$n.csr" \
			-CA "$c/ca.pem" -CAkey "$c/ca.key" -set_serial "$serial" \
			-days 365 -sha256 -extfile "$cnf" -extensions "$n" -out "$c/$n.pem"
		rm -f "$c/$n.csr"
		serial=$((serial + 1))
	done <<-EOF
	carol carol@smilla.test
	dave dave@smilla.test
	sig sig@smilla.test
	pkix pkix@smilla.test
	eve eve@bogus.smilla.test
	ivan ivan@insecure.smilla.test
	$SMIME_SIGNERS
	EOF
	# For gpgsm's trustlist.txt: the CA's SHA-1 fingerprint, colon hex.
	openssl x509 -in "$c/ca.pem" -noout -fingerprint -sha1 | sed 's/.*=//' >"$c/ca.sha1"

	# The benchmark's ten S/MIME recipients rcpt01..rcpt10: a
	# self-signed certificate each (SMIMEA usage 3 needs no chain), all on
	# alice's key.  Distinct certificates, because the milter writes one
	# RecipientInfo per distinct certificate: ten records carrying the
	# same one would make a single RSA encryption.
	local i
	for i in 01 02 03 04 05 06 07 08 09 10; do
		openssl req -config "$cnf" -x509 -key "$c/alice.key" -days 365 \
			-set_serial "$((100 + 10#$i))" -extensions rcpt \
			-subj "/CN=rcpt$i/emailAddress=rcpt$i@smilla.test" \
			-outform DER -out "$c/rcpt$i.der"
	done
	# PKCS#12 without a password, for gpgsm --import.  Legacy PBE and MAC:
	# gpgsm 2.2 cannot read OpenSSL 3's default (PBES2, AES).
	for n in alice carol frank; do
		openssl pkcs12 -export -passout pass: -name "$n" \
			-keypbe PBE-SHA1-3DES -certpbe PBE-SHA1-3DES -macalg sha1 \
			-in "$c/$n.pem" -inkey "$c/$n.key" -certfile "$c/ca.pem" \
			-out "$c/$n.p12"
	done

	cp "$c/ca.pem" "$c/chain.pem"
	# good.pem followed by the CA, for servers/clients that want one file.
	cat "$c/good.pem" "$c/ca.pem" >"$c/good-fullchain.pem"
	for n in ca good ta other self alice $SMIME_MORE \
		$(printf '%s\n' "$SMIME_SIGNERS" | awk '{print $1}'); do
		cert_der "$c/$n.pem" >"$c/$n.der"
		spki_der "$c/$n.pem" >"$c/$n.spki.der"
	done
	# Test keys, not secrets: readable so any test user (e.g. postfix) can
	# load them.
	chmod 644 "$c"/*
	openssl verify -CAfile "$c/ca.pem" "$c/good.pem" "$c/ta.pem" "$c/alice.pem" >/dev/null
	openssl verify -CAfile "$c/ca.pem" "$c/carol.pem" "$c/dave.pem" \
		"$c/sig.pem" "$c/pkix.pem" "$c/eve.pem" "$c/ivan.pem" \
		"$c/frank.pem" "$c/impostor.pem" "$c/nora.pem" "$c/sam.pem" >/dev/null
}

# The OpenPGP recipients of the header comment, "TAG address" a line:
# made by pgp_key, published by pgp_records, listed in bed.env.
PGP_FIXTURES="bob bob@smilla.test
rsa rsa@smilla.test
expired expired@smilla.test
soon soon@smilla.test
revoked revoked@smilla.test
signonly signonly@smilla.test
wronguid wronguid@smilla.test
carol carol@smilla.test
upper Upper@smilla.test
insecure pgp@insecure.smilla.test
bogus pgp@bogus.smilla.test
revsig revsig@smilla.test"
PGP_TAGS=$(printf '%s\n' "$PGP_FIXTURES" | awk '{print $1}' | paste -sd ' ')
# Made as the others, never published.
PGP_UNPUBLISHED="impostor bob@smilla.test"

# gpg without a terminal; keys without a passphrase.
pgp_gpg() {
	gpg --batch --no-tty --pinentry-mode loopback --passphrase '' "$@"
}

# pgp_key TAG ADDR: make fixture TAG's key for ADDR in $GNUPGHOME and
# write keys/TAG.pgp, keys/TAG-secret.pgp and keys/TAG.fpr.
pgp_key() {
	local tag=$1 addr=$2 uid fpr when
	uid="${tag^} <$addr>"
	# Made an hour ago: gpg dates a signature a second past the one
	# before it, and librnp takes one from the future as invalid.  The
	# expired subkey's key: 400 days ago, the subkey valid for a year;
	# revsig's two days ago, to be revoked one day ago.
	when=$(($(date +%s) - 3600))
	[ "$tag" = expired ] && when=$(($(date +%s) - 400 * 86400))
	[ "$tag" = revsig ] && when=$(($(date +%s) - 2 * 86400))
	case $tag in
	rsa) pgp_gpg --faked-system-time "$when" --quick-gen-key "$uid" \
		rsa3072 cert,sign,encr never ;;
	wronguid)
		uid="Someone <someone@elsewhere.test>"
		pgp_gpg --faked-system-time "$when" --quick-gen-key "$uid" \
			ed25519 cert,sign never ;;
	*) pgp_gpg --faked-system-time "$when" --quick-gen-key "$uid" \
		ed25519 cert,sign never ;;
	esac
	fpr=$(gpg --batch --with-colons --list-keys "=$uid" | awk -F: '$1 == "fpr" {print $10; exit}')
	[ -n "$fpr" ] || return 1
	case $tag in
	rsa | signonly) ;;
	# A minute after the primary: gpg's faked clock runs from when it
	# starts, so on a busy machine the primary can be dated a second
	# past WHEN, and a subkey before its primary is a "Time conflict".
	expired) pgp_gpg --faked-system-time "$((when + 60))" --quick-add-key "$fpr" \
		cv25519 encr 1y ;;
	soon) pgp_gpg --faked-system-time "$((when + 60))" --quick-add-key "$fpr" \
		cv25519 encr 10d ;;
	*) pgp_gpg --faked-system-time "$((when + 60))" --quick-add-key "$fpr" \
		cv25519 encr never ;;
	esac
	if [ "$tag" = revoked ]; then
		# The revocation gpg made with the key; its armor header starts
		# with ':' against importing it by accident.
		sed 's/^:-----BEGIN/-----BEGIN/' "$GNUPGHOME/openpgp-revocs.d/$fpr.rev" |
			pgp_gpg --import
	fi
	pgp_gpg --export-secret-keys "$fpr" >"$DIR/keys/$tag-secret.pgp"
	if [ "$tag" = revsig ]; then
		# Revoked a day ago, after the secret key was exported: a
		# signature dated before that is one the key made while it was
		# good.  --gen-revoke asks its questions even with --batch (which
		# it refuses): answered on the command fd.
		printf 'y\n0\nretired\n\ny\n' |
			gpg --no-tty --pinentry-mode loopback --passphrase '' \
				--command-fd 0 --faked-system-time "$(($(date +%s) - 86400))" \
				--yes --armor --output "$DIR/keys/$tag.rev" --gen-revoke "$fpr"
		pgp_gpg --import "$DIR/keys/$tag.rev"
	fi
	gpg --batch --export "$fpr" >"$DIR/keys/$tag.pgp"
	echo "$fpr" >"$DIR/keys/$tag.fpr"
	[ -s "$DIR/keys/$tag.pgp" ] && [ -s "$DIR/keys/$tag-secret.pgp" ]
}

# The benchmark's ten OpenPGP recipients pgp01..pgp10@smilla.test, an
# ed25519 key with a cv25519 encryption subkey each, made in one gpg
# run (ten quick-gen-key/quick-add-key pairs take several times as
# long): keys/pgpNN.pgp, keys/pgpNN.fpr, and every secret key in
# keys/bench-secret.pgp.  Not fixtures: they stay out of PGP_TAGS.
pgp_bench_keys() {
	local i fpr fprs="" when=$(($(date +%s) - 3600))
	for i in 01 02 03 04 05 06 07 08 09 10; do
		printf '%s\n' "Key-Type: eddsa" "Key-Curve: ed25519" \
			"Key-Usage: sign" "Subkey-Type: ecdh" \
			"Subkey-Curve: cv25519" "Subkey-Usage: encrypt" \
			"Name-Real: Pgp$i" "Name-Email: pgp$i@smilla.test" \
			"Expire-Date: 0" "%no-protection" "%commit"
	done >"$DIR/keys/bench.params"
	pgp_gpg --faked-system-time "$when" --gen-key "$DIR/keys/bench.params"
	rm -f "$DIR/keys/bench.params"
	for i in 01 02 03 04 05 06 07 08 09 10; do
		fpr=$(gpg --batch --with-colons --list-keys "=Pgp$i <pgp$i@smilla.test>" |
			awk -F: '$1 == "fpr" {print $10; exit}')
		[ -n "$fpr" ] || return 1
		gpg --batch --export "$fpr" >"$DIR/keys/pgp$i.pgp"
		echo "$fpr" >"$DIR/keys/pgp$i.fpr"
		[ -s "$DIR/keys/pgp$i.pgp" ] || return 1
		fprs="$fprs $fpr"
	done
	# shellcheck disable=SC2086 # ten fingerprints
	pgp_gpg --export-secret-keys $fprs >"$DIR/keys/bench-secret.pgp"
	[ -s "$DIR/keys/bench-secret.pgp" ]
}

make_pgp() {
	local g="$DIR/gnupg" tag addr
	mkdir -p "$g" "$DIR/keys"
	chmod 700 "$g"
	export GNUPGHOME="$g"
	# gpg-agent's socket lives in GNUPGHOME (no /run/user/0 here); a path
	# past ~100 characters would not fit in sun_path.
	[ ${#g} -lt 90 ] || echo "$PROG: warning: long GNUPGHOME $g, gpg-agent may fail" >&2
	while read -r tag addr; do
		pgp_key "$tag" "$addr"
	done <<-EOF
	$PGP_FIXTURES
	$PGP_UNPUBLISHED
	EOF
	gpg --batch --armor --export "$(cat "$DIR/keys/bob.fpr")" >"$DIR/keys/bob.asc"
	pgp_bench_keys
	# Test keys, not secrets (as certs/): any test user may read them.
	chmod 644 "$DIR"/keys/*
	# No agent may outlive "start".
	local agents
	agents=$(pids_mentioning "--homedir $g ")
	gpgconf --kill all
	wait_reaped "$agents" 50
	unset GNUPGHOME
}

# openpgpkey LOCALPART TAG: an OPENPGPKEY (type 61) line for a zone
# file, RDATA keys/TAG.pgp, generic syntax (any ldns takes it).
openpgpkey() {
	printf '%s._openpgpkey	IN TYPE61	%s\n' "$(local_part_hash "$1")" \
		"$(generic <"$DIR/keys/$2.pgp")"
}

# pgp_records DOMAIN: the OPENPGPKEY lines of the fixtures at DOMAIN;
# upper's under its lowercased local part only.
pgp_records() {
	local tag addr lp
	while read -r tag addr; do
		[ "${addr#*@}" = "$1" ] || continue
		lp=${addr%@*}
		[ "$tag" = upper ] && lp=${lp,,}
		openpgpkey "$lp" "$tag"
	done <<-EOF
	$PGP_FIXTURES
	EOF
}

# keygen ZONE -> sets KSK and ZSK to the key base names (in $DIR/zones/keys).
keygen() {
	local k="$DIR/zones/keys"
	mkdir -p "$k"
	KSK=$k/$(cd "$k" && ldns-keygen -a ECDSAP256SHA256 -k "$1")
	ZSK=$k/$(cd "$k" && ldns-keygen -a ECDSAP256SHA256 "$1")
	[ -s "$KSK.private" ] && [ -s "$ZSK.private" ]
}

soa_ns() { # ZONE -> apex records
	cat <<EOF
\$ORIGIN $1
\$TTL 300
@	IN SOA	ns.smilla.test. hostmaster.smilla.test. 1 3600 600 86400 300
@	IN NS	ns.smilla.test.
EOF
}

make_zones() {
	local z="$DIR/zones" c="$DIR/certs"
	mkdir -p "$z"
	local good_spki good_cert good_spki512 good_full ca_cert self_spki other_spki
	good_spki=$(sha sha256 <"$c/good.spki.der")
	good_cert=$(sha sha256 <"$c/good.der")
	good_spki512=$(sha sha512 <"$c/good.spki.der")
	good_full=$(hex <"$c/good.der")
	ca_cert=$(sha sha256 <"$c/ca.der")
	self_spki=$(sha sha256 <"$c/self.spki.der")
	other_spki=$(sha sha256 <"$c/other.spki.der")
	ALICE_HASH=$(local_part_hash alice)
	BOB_HASH=$(local_part_hash bob)
	GOOD_SPKI_SHA256=$(echo "$good_spki" | upper)
	GOOD_CERT_SHA256=$(echo "$good_cert" | upper)

	# insecure.smilla.test: unsigned child, parent has no DS.
	{
		soa_ns insecure.smilla.test.
		echo "_smtp-client.host	IN TLSA	3 1 1 $good_spki"
		smimea ivan 3 "$c/ivan.der"
		pgp_records insecure.smilla.test
	} >"$z/insecure.smilla.test.zone"

	# bogus.smilla.test: signed, parent has its DS, but every signature has
	# already expired, so a validator must call it bogus.
	keygen bogus.smilla.test.
	local bogus_ksk=$KSK bogus_zsk=$ZSK
	{
		soa_ns bogus.smilla.test.
		echo "_smtp-client.host	IN TLSA	3 1 1 $good_spki"
		smimea eve 3 "$c/eve.der"
		pgp_records bogus.smilla.test
	} >"$z/bogus.smilla.test.zone"
	ldns-signzone -o bogus.smilla.test. \
		-i "$(date -u -d '30 days ago' +%Y%m%d)" \
		-e "$(date -u -d '10 days ago' +%Y%m%d)" \
		-f "$z/bogus.smilla.test.zone.signed" \
		"$z/bogus.smilla.test.zone" "$bogus_ksk" "$bogus_zsk"

	# Malformed TLSA rdata (RFC 3597 generic form, so the signer takes them
	# as they are): "3 1 1" with a 4-octet digest, and "3 1 1" with no
	# association data at all.  A 2-octet TLSA would be nastier, but NSD
	# 4.6 refuses to load a TLSA shorter than its 3 fixed octets.
	MALFORMED='\# 7 030101deadbeef
\# 3 030101'

	# smilla.test: the signed parent.
	keygen smilla.test.
	local ksk=$KSK zsk=$ZSK
	{
		soa_ns smilla.test.
		cat <<EOF
ns	IN A	127.0.0.1
_smtp-client.good	IN TLSA	3 1 1 $good_spki
_smtp-client.cert	IN TLSA	3 0 1 $good_cert
_smtp-client.sha512	IN TLSA	3 1 2 $good_spki512
_smtp-client.full	IN TLSA	3 0 0 $good_full
_smtp-client.ta	IN TLSA	2 0 1 $ca_cert
_smtp-client.self	IN TLSA	3 1 1 $self_spki
_smtp-client.bad	IN TLSA	3 1 1 $other_spki
_smtp-client.roll	IN TLSA	3 1 1 $good_spki
_smtp-client.roll	IN TLSA	3 1 1 $other_spki
_smtp-client.nodata	IN TXT	"no tlsa here"
EOF
		# For bench/slowloris-bench.sh: clients that pass (the good
		# certificate) and that nothing else asks for, so that their
		# first request is an uncached lookup.
		local i
		for i in 01 02 03 04 05 06 07 08 09 10; do
			printf '_smtp-client.fresh%s\tIN TLSA\t3 1 1 %s\n' "$i" "$good_spki"
		done
		printf "%s\n" "$MALFORMED" | sed 's/^/_smtp-client.malformed	IN TYPE52	/'
		# SMIMEA (53) "3 0 0 <alice DER>", generic syntax so any ldns
		# version takes it.
		printf '%s._smimecert	IN TYPE53	%s\n' "$ALICE_HASH" \
			"$( { printf '\003\000\000'; cat "$c/alice.der"; } | generic)"
		# OPENPGPKEY (61): bob's and the other OpenPGP recipients'.
		pgp_records smilla.test
		# The milter's recipients: carol (RSA), dave (EC), sig (no
		# keyEncipherment), pkix (usage 1 = PKIX-EE, CA not in the system
		# store: unusable); for the benchmark, rcpt01..rcpt10 (a
		# certificate each, alice's key) and pgp01..pgp10 (an OpenPGP
		# key each).
		smimea carol 3 "$c/carol.der"
		smimea dave 3 "$c/dave.der"
		smimea sig 3 "$c/sig.der"
		smimea pkix 1 "$c/pkix.der"
		# frank, a sender: "3 1 1", the SHA-256 of his certificate's
		# SubjectPublicKeyInfo (which a signed message carries).
		printf '%s._smimecert	IN TYPE53	%s\n' "$(local_part_hash frank)" \
			"$( { printf '\003\001\001'; openssl dgst -sha256 -binary \
				<"$c/frank.spki.der"; } | generic)"
		# Local-part case (the milter looks up as given, then
		# lowercased): "Mixed" carries dave's certificate, "mixed"
		# carol's.
		smimea Mixed 3 "$c/dave.der"
		smimea mixed 3 "$c/carol.der"
		for i in 01 02 03 04 05 06 07 08 09 10; do
			smimea "rcpt$i" 3 "$c/rcpt$i.der"
			openpgpkey "pgp$i" "pgp$i"
		done
		cat <<EOF
insecure	IN NS	ns.smilla.test.
bogus	IN NS	ns.smilla.test.
slow	IN NS	ns.smilla.test.
EOF
		# The bogus child's DS; "bogus.smilla.test." is absolute, fine here.
		ldns-key2ds -n -2 "$bogus_ksk.key"
	} >"$z/smilla.test.zone"
	ldns-signzone -o smilla.test. -f "$z/smilla.test.zone.signed.tmp" \
		"$z/smilla.test.zone" "$ksk" "$zsk"
	# ldns prints the malformed TLSA rdata in presentation form ("TLSA 3 1 1"
	# with an empty digest), which NSD cannot read back.  Put them back in
	# generic form: same wire data, so the RRSIG still covers them.
	{
		grep -vE '^_smtp-client\.malformed\.smilla\.test\.[[:space:]]+[0-9]+[[:space:]]+IN[[:space:]]+TLSA[[:space:]]' \
			"$z/smilla.test.zone.signed.tmp"
		printf "%s\n" "$MALFORMED" | sed 's/^/_smtp-client.malformed.smilla.test.	300	IN	TYPE52	/'
	} >"$z/smilla.test.zone.signed"
	rm -f "$z/smilla.test.zone.signed.tmp"

	ldns-key2ds -n -2 "$ksk.key" >"$DIR/anchor.key"
	grep -q 'IN[[:space:]]*DS' "$DIR/anchor.key"

	local f
	for f in smilla.test bogus.smilla.test; do
		nsd-checkzone "$f" "$z/$f.zone.signed"
	done
	nsd-checkzone insecure.smilla.test "$z/insecure.smilla.test.zone"
}

# ---------------------------------------------------------------- servers

write_nsd_conf() {
	cat >"$DIR/nsd.conf" <<EOF
# Generated by tests/bed/bed.sh
server:
	ip-address: 127.0.0.1@$NSD_PORT
	do-ip6: no
	username: ""
	chroot: ""
	database: ""
	zonesdir: "$DIR/zones"
	pidfile: "$DIR/nsd.pid"
	logfile: "$DIR/nsd.log"
	xfrdfile: "$DIR/nsd-xfrd.state"
	xfrdir: "$DIR/nsd-xfr"
	zonelistfile: "$DIR/nsd-zone.list"
	verbosity: 1
	server-count: 1
	hide-version: yes
	# Answered to "id.server CH TXT": tells our NSD from another run's
	# that grabbed the same port first.
	identity: "$BED_ID"
	zonefiles-write: 0
remote-control:
	control-enable: no
zone:
	name: "smilla.test"
	zonefile: "smilla.test.zone.signed"
zone:
	name: "insecure.smilla.test"
	zonefile: "insecure.smilla.test.zone"
zone:
	name: "bogus.smilla.test"
	zonefile: "bogus.smilla.test.zone.signed"
EOF
}

# drill QNAME TYPE [CLASS] against our NSD, output on stdout.
ask_nsd() {
	drill -p "$NSD_PORT" @127.0.0.1 "$@" 2>/dev/null
}

nsd_ready() {
	local z
	ask_nsd id.server TXT CH | grep -qF "\"$BED_ID\"" || return 1
	for z in smilla.test insecure.smilla.test bogus.smilla.test; do
		ask_nsd "$z" SOA | grep -qE '^;; ->>HEADER<<-.*rcode: NOERROR' || return 1
		ask_nsd "$z" SOA | grep -qE "^$z\.[[:space:]].*SOA" || return 1
	done
}

# Try up to 5 ports; returns non-zero if NSD never came up.
start_nsd() {
	local try i p
	mkdir -p "$DIR/nsd-xfr"
	for try in 1 2 3 4 5; do
		NSD_PORT=$(pick_port) || return 1
		write_nsd_conf
		rm -f "$DIR/nsd.pid"
		# Its stdio goes to a file: a caller capturing our output in a pipe
		# must not wait for the daemon to close it.  nsd binds its sockets
		# before it daemonizes, so a taken port shows as a non-zero exit.
		if setsid nsd -c "$DIR/nsd.conf" </dev/null >>"$DIR/nsd.stderr" 2>&1 3>&- 4>&-; then
			for i in $(seq 1 50); do
				nsd_ready && return 0
				sleep 0.1
			done
		fi
		echo "NSD did not come up on port $NSD_PORT (try $try)" >>"$LOG"
		stop_bed "$DIR"
	done
	echo "NSD log:" >>"$LOG"
	tail -n 20 "$DIR/nsd.log" "$DIR/nsd.stderr" >>"$LOG" 2>/dev/null || true
	return 1
}

start_blackhole() {
	local try i pid
	for try in 1 2 3 4 5; do
		BH_PORT=$(pick_port "$NSD_PORT") || return 1
		rm -f "$DIR/blackhole.pid"
		setsid perl "$BED_SRC/blackhole.pl" "$BH_PORT" "$DIR/blackhole.pid" 3600 \
			</dev/null >>"$DIR/blackhole.log" 2>&1 3>&- 4>&- &
		pid=$!
		for i in $(seq 1 50); do
			[ -s "$DIR/blackhole.pid" ] && return 0
			alive "$pid" || break   # bind failed: try another port
			sleep 0.1
		done
		echo "blackhole did not come up on port $BH_PORT (try $try)" >>"$LOG"
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	tail -n 5 "$DIR/blackhole.log" >>"$LOG" 2>/dev/null || true
	return 1
}

# ---------------------------------------------------------------- configs

write_configs() {
	cat >"$DIR/unbound.conf" <<EOF
# Generated by tests/bed/bed.sh; for libunbound (ub_ctx_config).
# The trust anchor is deliberately not here: smilla loads it itself
# (trust_anchor_file in smilla.conf).
server:
	# libunbound answers names under test. from a built-in local zone
	# (NXDOMAIN) unless this is set.
	local-zone: "test." nodefault
	do-not-query-localhost: no
	do-ip6: no
	chroot: ""
	username: ""
	use-syslog: no
	verbosity: 0

stub-zone:
	name: "smilla.test."
	stub-addr: 127.0.0.1@$NSD_PORT
stub-zone:
	name: "insecure.smilla.test."
	stub-addr: 127.0.0.1@$NSD_PORT
stub-zone:
	name: "bogus.smilla.test."
	stub-addr: 127.0.0.1@$NSD_PORT
stub-zone:
	name: "slow.smilla.test."
	stub-addr: 127.0.0.1@$BH_PORT
EOF

	# allow_root: the tests run as root and most start the daemons
	# without "user"; tests/e2e/privs.t takes it out again.
	cat >"$DIR/smilla.conf" <<EOF
# Generated by tests/bed/bed.sh
allow_root = yes
trust_anchor_file = $DIR/anchor.key
unbound_conf = $DIR/unbound.conf
dns_timeout = 3
db_path = $DIR/smilla.db
log = stderr
log_level = info
EOF

	cat >"$DIR/bed.env" <<EOF
# Generated by tests/bed/bed.sh; source it.
BED_DIR='$DIR'
NSD_PORT=$NSD_PORT
BH_PORT=$BH_PORT
ALICE_HASH=$ALICE_HASH
BOB_HASH=$BOB_HASH
GOOD_SPKI_SHA256=$GOOD_SPKI_SHA256
GOOD_CERT_SHA256=$GOOD_CERT_SHA256
# Postfix's ccert_* form (uppercase, colon-separated).
GOOD_SPKI_SHA256_COLON=$(echo "$GOOD_SPKI_SHA256" | sed 's/../&:/g; s/:$//')
GOOD_CERT_SHA256_COLON=$(echo "$GOOD_CERT_SHA256" | sed 's/../&:/g; s/:$//')
SELF_SPKI_SHA256=$(sha sha256 <"$DIR/certs/self.spki.der" | upper)
OTHER_SPKI_SHA256=$(sha sha256 <"$DIR/certs/other.spki.der" | upper)
BOB_FPR=$(cat "$DIR/keys/bob.fpr")
# SMIMEA: alice carol dave(EC) sig(no keyEncipherment) pkix(usage 1)
# Mixed (dave's certificate) mixed (carol's)
# @smilla.test, eve@bogus.smilla.test, ivan@insecure.smilla.test;
# certs/NAME.{pem,key,der}, alice.p12 and carol.p12 (no password).
# The benchmark's ten S/MIME recipients: certs/rcptNN.der, each its own
# certificate on alice's key (certs/alice.key decrypts):
BENCH_RCPTS="$(printf 'rcpt%02d@smilla.test ' $(seq 1 10) | sed 's/ $//')"
# and its ten OpenPGP recipients, a cv25519 key each: keys/pgpNN.pgp
# (the record), all ten secret keys in keys/bench-secret.pgp:
BENCH_PGP_RCPTS="$(printf 'pgp%02d@smilla.test ' $(seq 1 10) | sed 's/ $//')"
# OPENPGPKEY recipients (the top of tests/bed/bed.sh says what each key
# is): PGP_<TAG> the address; keys/TAG.pgp the record, keys/TAG-secret.pgp
# the secret key, keys/TAG.fpr the fingerprint.  PGP_UPPER's key is
# published under the lowercased local part's hash only.
PGP_TAGS="$PGP_TAGS"
$(printf '%s\n' "$PGP_FIXTURES" | awk '{print "PGP_" toupper($1) "=" $2}')
# The OpenPGP key made but not published, keys/impostor.*: bob's address.
$(printf '%s\n' "$PGP_UNPUBLISHED" | awk '{print "PGP_" toupper($1) "=" $2}')
# S/MIME senders (the top of tests/bed/bed.sh says what each is):
# SIGNER_<NAME> the address certs/NAME.pem is issued for; SIGNERS the
# names.  certs/ca.sha1 for gpgsm's trustlist.txt.
SIGNERS="alice ivan eve $(printf '%s\n' "$SMIME_SIGNERS" | awk '{print $1}' | paste -sd ' ')"
SIGNER_ALICE=alice@smilla.test
SIGNER_IVAN=ivan@insecure.smilla.test
SIGNER_EVE=eve@bogus.smilla.test
$(printf '%s\n' "$SMIME_SIGNERS" | awk '{print "SIGNER_" toupper($1) "=" $2}')
export BED_DIR NSD_PORT BH_PORT ALICE_HASH BOB_HASH GOOD_SPKI_SHA256 GOOD_CERT_SHA256
EOF
}

# ---------------------------------------------------------------- main

start() {
	mkdir -p "$DIR"
	DIR=$(cd "$DIR" && pwd -P)
	chmod 755 "$DIR"
	LOG="$DIR/bed.log"
	# A previous bed in the same DIR: stop it and regenerate from scratch.
	stop_bed "$DIR"
	rm -rf "$DIR/certs" "$DIR/keys" "$DIR/zones" "$DIR/gnupg" "$DIR/nsd-xfr"
	rm -f "$DIR"/nsd.* "$DIR"/nsd-* "$DIR"/blackhole.* "$DIR/anchor.key" \
		"$DIR/unbound.conf" "$DIR/smilla.conf" "$DIR/bed.env" "$DIR/smilla.db"
	: >"$LOG"
	BED_ID="smilla-bed-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"

	# Tools' chatter goes to the log; our own stdout/stderr are kept on 3/4
	# for the summary or the failure message.
	exec 3>&1 4>&2 >>"$LOG" 2>&1
	trap 'start_failed' EXIT
	step "certificates"; make_certs
	step "OpenPGP key"; make_pgp
	step "zones"; make_zones
	step "NSD"; start_nsd
	step "blackhole"; start_blackhole
	step "configs"; write_configs
	trap - EXIT
	exec 1>&3 2>&4 3>&- 4>&-
	echo "bed up in $DIR: NSD 127.0.0.1@$NSD_PORT, blackhole 127.0.0.1@$BH_PORT"
}

start_failed() {
	local rc=$?
	trap - EXIT
	exec 1>&3 2>&4
	echo "$PROG: start failed during: $STEP (log: $LOG)" >&2
	tail -n 25 "$LOG" | sed 's/^/  | /' >&2
	stop_bed "$DIR"
	[ "$rc" -ne 0 ] || rc=1
	exit "$rc"
}

[ $# -eq 2 ] || usage
DIR=$2
case $1 in
start)
	for t in nsd nsd-checkzone drill ldns-keygen ldns-signzone ldns-key2ds \
		openssl gpg gpgconf perl ss setsid od; do
		command -v "$t" >/dev/null 2>&1 || die "missing tool: $t"
	done
	start
	;;
stop)
	[ -d "$DIR" ] || exit 0
	DIR=$(cd "$DIR" && pwd -P)
	stop_bed "$DIR"
	;;
*) usage ;;
esac
