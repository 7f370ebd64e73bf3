#!/bin/bash
# smilla (the milter) end to end, signed mail to a local domain (issue
# 12): a real Postfix (throwaway instance, tests/e2e/postfix.sh) calls
# one smilla milter, swaks sends mail signed here with two independent
# S/MIME implementations (openssl cms and gpgsm, detached and opaque)
# and with gpg (PGP/MIME), by the senders of tests/bed/bed.sh's header
# comment, whose SMIMEA and OPENPGPKEY records the DNSSEC test bed
# publishes.  What arrives in the Maildir is read back: the
# Authentication-Results header, the rest of the message byte for byte,
# the message's log line and the reputation rows.
#
#   milter V: local_domains = mx.smilla.test, so mail to
#             user@mx.smilla.test is inbound and checked;
#             encrypt_inbound = no, so it is delivered as it was sent.
set -eu
export LC_ALL=C
. "$(dirname "$0")/../lib/tap.sh"
require_bed
. "$(dirname "$0")/../lib/mta.sh"
mta_setup verify tmp
pf="$work/pf"
# Homes of the signing tools: gpgsm (alice's and frank's keys), gpg
# (the OpenPGP senders' secret keys).  Short: gpg-agent's socket lives
# in them.
sm="$work/sm"
pg="$work/pg"
# shellcheck disable=SC2034
MILTERS="v"
# shellcheck disable=SC2034
declare -A mpid=()
RCPT=user@mx.smilla.test
AUTHSERV=mx.smilla.test

. "$here/../lib/mail.sh"
. "$here/../lib/sign.sh"

agents_kill() {
	local h
	for h in "$sm" "$pg"; do
		[ -d "$h" ] && GNUPGHOME="$h" gpgconf --kill all >/dev/null 2>&1 || true
	done
}
cleanup() {
	"$PF_SH" stop "$pf" >/dev/null 2>&1 || true
	milters_kill
	agents_kill
}
trap cleanup EXIT

# ------------------------------------------------------------------ milter, Postfix

: >"$work/v-require.tbl"
milter_conf v "local_domains = mx.smilla.test" "encrypt_inbound = no"
milters_start || { done_testing; exit 1; }
postfix_start || { done_testing; exit 1; }

# ------------------------------------------------------------------ signing tools

mkdir -m 700 "$sm" "$pg"
# The agent up before the imports: a gpgsm started while the agent the
# one before it launched is still coming up can fail to reach it (CI
# saw frank's import fail so once); a failed import is tried once more.
GNUPGHOME="$sm" gpgconf --launch gpg-agent >>"$work/sm.log" 2>&1 || true
for n in alice frank; do
	for _ in 1 2; do
		GNUPGHOME="$sm" gpgsm --batch --pinentry-mode loopback --passphrase '' \
			--import "$certs/$n.p12" >>"$work/sm.log" 2>&1 && rc=0 || rc=$?
		[ "$rc" -eq 0 ] && break
		sed 's/^/# /' "$work/sm.log" | tail -n 3
	done
	is "$rc" 0 "gpgsm imports $n.p12"
done
# gpgsm signs only with a certificate whose root it trusts.
echo "$(cat "$certs/ca.sha1") S relax" >"$sm/trustlist.txt"
for t in bob impostor revsig insecure bogus; do
	gpg --homedir "$pg" --batch --import "$keys/$t-secret.pgp" >>"$work/pg.log" 2>&1 && rc=0 || rc=$?
	is "$rc" 0 "gpg imports $t's secret key"
done

# ------------------------------------------------------------------ messages

total=0 # messages expected in the Maildir

# intact FILE NAME ADDED: FILE is msg/NAME.eml as Postfix stores it (LF
# line ends) but for what may change: on top what virtual(8) adds at
# delivery (Return-Path, X-Original-To, Delivered-To), then ADDED (0 or
# 1) of our Authentication-Results, then the Received of Postfix's
# smtpd (the milter inserts its header above everything it sees); our
# X-Smilla status header; and the Authentication-Results under our
# authserv-id the message came with, gone.  Every other header field in
# its place, byte for byte, and the body byte for byte.
intact() {
	perl -e '
		my ($got, $sent, $added, $authserv) = @ARGV;
		sub fields { # header fields (folding kept), body
			my ($file, $crlf) = @_;
			open(my $f, "<", $file) or die "$file: $!";
			local $/;
			my $m = <$f>;
			$m =~ s/\r\n/\n/g if $crlf;
			my ($h, $b) = $m =~ /\A(.*?\n)\n(.*)\z/s or die "$file: no header/body split";
			return ([ $h =~ /^([^ \t].*\n(?:[ \t].*\n)*)/mg ], $b);
		}
		# Under our authserv-id (a comment may come first, RFC 8601).
		sub ours { $_[0] =~ /^Authentication-Results:\s*(?:\([^()]*\)\s*)*\Q$authserv\E\s*;/i }
		my ($g, $gb) = fields($got, 0);
		my ($s, $sb) = fields($sent, 1);
		my @why;
		for my $name ("Return-Path", "X-Original-To", "Delivered-To") {
			if (@$g && $g->[0] =~ /^\Q$name\E:/i) { shift @$g } else { push @why, "no $name on top" }
		}
		if ($added) {
			if (@$g && ours($g->[0])) { shift @$g } else { push @why, "ours not next below the delivery trace" }
		}
		if (@$g && $g->[0] =~ /^Received: .*\n(?:[ \t].*\n)*[ \t]+by mx\.smilla\.test \(Postfix\)/) {
			shift @$g;
		} else {
			push @why, "no Received of Postfix'"'"'s next";
		}
		my @rest = grep { !/^X-Smilla:/i } @$g;
		push @why, "another Authentication-Results of ours" if grep { ours($_) } @rest;
		my @kept = grep { !ours($_) } @$s;
		if (join("", @rest) ne join("", @kept)) {
			push @why, "the other header fields differ";
			my %k = map { $_ => 1 } @kept;
			print "#   delivered only: $_" for grep { !$k{$_} } @rest;
			my %r = map { $_ => 1 } @rest;
			print "#   sent only: $_" for grep { !$r{$_} } @kept;
		}
		push @why, "the body differs" if $gb ne $sb;
		print "# $_\n" for @why;
		exit(@why ? 1 : 0);
	' "$1" "$work/msg/$2.eml" "$3" "$AUTHSERV"
}

# ar FILE: the Authentication-Results values of FILE, one a line.
ar() { hdr "$1" Authentication-Results; }

# got NAME ADDED WHAT [swaks args]: send msg/NAME, wait for it; the
# checks every case shares: accepted, delivered, nothing changed but
# ADDED (0 or 1) header of ours (intact), one log line.  $m the
# delivered file, $a its Authentication-Results, $l the log line.
got() {
	local n=$1 added=$2 what=$3
	shift 3
	deliver "$n" "$RCPT" 1 "$what" "$@"
	if [ "$added" = 1 ]; then
		check "  delivered byte for byte but for our header, on top" intact "$m" "$n" 1
	else
		check "  delivered byte for byte, no header of ours" intact "$m" "$n" 0
	fi
	a=$(ar "$m")
	l=$(logline v "$qid")
	is "$(printf '%s' "$l" | grep -c .)" 1 "  one log line for queue_id=$qid"
}

# result NAME WHAT HEADER WORDS [swaks args]: the message gets our
# Authentication-Results HEADER (an ERE over the whole value) and its
# log line the verify words WORDS (an ERE).
result() {
	local n=$1 what=$2 h=$3 w=$4
	shift 4
	got "$n" 1 "$what" "$@"
	like "$a" "^$h\$" "  Authentication-Results: ${h//\\/}"
	like "$l" " action=plaintext reason=\"disabled\" $w size=[0-9]+ ms=[0-9]+\$" \
		"  log: ${w//\\/}"
}

# ------------------------------------------------------------------ 1. pass

part alice-cms >"$work/msg/alice-cms.part"
check "openssl cms -sign (alice, detached)" cms_sign alice-cms alice
assemble alice-cms "Alice <alice@smilla.test>" smime
result alice-cms "S/MIME detached, openssl, SMIMEA 3 0 0" "$(smime_pass alice alice@smilla.test)" \
	'verify=smime:pass signer=alice@smilla\.test verify_reason="SMIMEA 3 0 0 matches the signer"'

part alice-gpgsm >"$work/msg/alice-gpgsm.part"
check "gpgsm --detach-sign (alice)" gpgsm_sign alice-gpgsm alice@smilla.test --detach-sign
assemble alice-gpgsm "alice@smilla.test" smime
result alice-gpgsm "S/MIME detached, gpgsm, SMIMEA 3 0 0" "$(smime_pass alice alice@smilla.test)" \
	'verify=smime:pass signer=alice@smilla\.test verify_reason="SMIMEA 3 0 0 matches the signer"'

part alice-opaque >"$work/msg/alice-opaque.part"
check "openssl cms -sign -nodetach (alice, opaque)" cms_sign alice-opaque alice -nodetach
assemble alice-opaque "Alice <alice@smilla.test>" opaque
result alice-opaque "S/MIME opaque, openssl, SMIMEA 3 0 0" "$(smime_pass alice alice@smilla.test)" \
	'verify=smime-opaque:pass signer=alice@smilla\.test verify_reason="SMIMEA 3 0 0 matches the signer"'

part alice-opaque-gpgsm >"$work/msg/alice-opaque-gpgsm.part"
check "gpgsm --sign (alice, opaque)" gpgsm_sign alice-opaque-gpgsm alice@smilla.test --sign
assemble alice-opaque-gpgsm "Alice <alice@smilla.test>" opaque
result alice-opaque-gpgsm "S/MIME opaque, gpgsm, SMIMEA 3 0 0" "$(smime_pass alice alice@smilla.test)" \
	'verify=smime-opaque:pass signer=alice@smilla\.test verify_reason="SMIMEA 3 0 0 matches the signer"'

part frank-cms >"$work/msg/frank-cms.part"
check "openssl cms -sign (frank)" cms_sign frank-cms frank
assemble frank-cms "Frank <frank@smilla.test>" smime
result frank-cms "S/MIME detached, openssl, SMIMEA 3 1 1 (SPKI SHA-256)" "$(smime_pass frank frank@smilla.test)" \
	'verify=smime:pass signer=frank@smilla\.test verify_reason="SMIMEA 3 1 1 matches the signer"'

part frank-gpgsm >"$work/msg/frank-gpgsm.part"
check "gpgsm --detach-sign (frank)" gpgsm_sign frank-gpgsm frank@smilla.test --detach-sign
assemble frank-gpgsm "Frank <frank@smilla.test>" smime
result frank-gpgsm "S/MIME detached, gpgsm, SMIMEA 3 1 1" "$(smime_pass frank frank@smilla.test)" \
	'verify=smime:pass signer=frank@smilla\.test verify_reason="SMIMEA 3 1 1 matches the signer"'

part bob >"$work/msg/bob.part"
check "gpg --detach-sign (bob)" gpg_sign bob bob
assemble bob "Bob <bob@smilla.test>" pgp
result bob "PGP/MIME, gpg, OPENPGPKEY" "$(pgp_pass bob bob@smilla.test)" \
	"verify=pgp-mime:pass signer=bob@smilla\\.test verify_reason=\"OPENPGPKEY $(fpr bob) made the signature\""

# ------------------------------------------------------------------ 2. nested in multipart/mixed

part alice-mixed >"$work/msg/alice-mixed.part"
cms_sign alice-mixed alice
assemble alice-mixed "Alice <alice@smilla.test>" smime mixed
result alice-mixed "S/MIME signed part 1 of multipart/mixed, a footer after it" \
	"$(smime_pass alice alice@smilla.test 1)" 'verify=smime:pass signer=alice@smilla\.test verify_reason="SMIMEA 3 0 0 matches the signer"'

part bob-mixed >"$work/msg/bob-mixed.part"
gpg_sign bob-mixed bob
assemble bob-mixed "Bob <bob@smilla.test>" pgp mixed
result bob-mixed "PGP/MIME signed part 1 of multipart/mixed" \
	"$(pgp_pass bob bob@smilla.test 1)" "verify=pgp-mime:pass signer=bob@smilla\\.test verify_reason=\"OPENPGPKEY $(fpr bob) made the signature\""

# ------------------------------------------------------------------ 3. fail

# reason="..." of a result other than pass: an ERE.
reason() { printf ' reason="%s"' "$1"; }
A="$(re $AUTHSERV);"

# Tampered after signing: one octet of the signed text; with forged
# results of ours (any case) and another host's.
part tampered >"$work/msg/tampered.part"
cms_sign tampered alice
perl -pi -e 's/K\xc3\xb6ln/K\xc3\xb6lN/' "$work/msg/tampered.part"
EXTRA="Authentication-Results: $AUTHSERV; smime=pass body.smime-identifier=alice@smilla.test
Authentication-Results: other.example;
	dkim=pass header.d=other.example
Authentication-Results: (a comment first) MX.Smilla.Test; x-pgp=pass"
assemble tampered "Alice <alice@smilla.test>" smime
EXTRA=""
result tampered "S/MIME, the signed text changed after signing" \
	"$A smime=fail$(reason '[^"]*') body\\.smime-identifier=alice@smilla\\.test" \
	'verify=smime:fail signer=alice@smilla\.test verify_reason="[^"]+"'
is "$(printf '%s\n' "$a" | grep -c .)" 2 "  two Authentication-Results: ours and other.example's"
is "$(printf '%s\n' "$a" | sed -n 2p)" "other.example; dkim=pass header.d=other.example" \
	"  other.example's kept as it was (our two forged ones removed)"

part impostor >"$work/msg/impostor.part"
cms_sign impostor impostor
assemble impostor "Alice <alice@smilla.test>" smime
result impostor "S/MIME by an impostor: a certificate for alice@ from the same CA" \
	"$A smime=fail$(reason 'the signer matches none of 1 SMIMEA record: [^"]*') body\\.smime-identifier=alice@smilla\\.test body\\.smime-serial=$(serial impostor) body\\.smime-issuer=$(re "$issuer")" \
	'verify=smime:fail signer=alice@smilla\.test verify_reason="the signer matches none of 1 SMIMEA record: [^"]*"'

part pgp-impostor >"$work/msg/pgp-impostor.part"
gpg_sign pgp-impostor impostor
assemble pgp-impostor "Bob <bob@smilla.test>" pgp
result pgp-impostor "PGP/MIME by an impostor: a key for bob@ that is not published" \
	"$A x-pgp=fail$(reason 'unknown key[^"]*') header\\.from=bob@smilla\\.test body\\.x-pgp-fingerprint=$(fpr impostor)" \
	'verify=pgp-mime:fail signer=bob@smilla\.test verify_reason="unknown key[^"]*"'

part pgp-tampered >"$work/msg/pgp-tampered.part"
gpg_sign pgp-tampered bob
perl -pi -e 's/^sender\r$/Sender\r/' "$work/msg/pgp-tampered.part"
assemble pgp-tampered "Bob <bob@smilla.test>" pgp
result pgp-tampered "PGP/MIME, the signed text changed after signing" \
	"$A x-pgp=fail$(reason 'bad signature[^"]*') header\\.from=bob@smilla\\.test body\\.x-pgp-fingerprint=$(fpr bob)" \
	'verify=pgp-mime:fail signer=bob@smilla\.test verify_reason="bad signature[^"]*"'

# revsig's key was revoked a day ago; the signature is 36 hours old.
part revsig >"$work/msg/revsig.part"
gpg_sign revsig revsig --faked-system-time "$(($(date +%s) - 36 * 3600))"
check "  gpg dated the signature before the revocation" \
	eval "gpg --homedir '$pg' --list-packets '$work/msg/revsig.sig' 2>/dev/null |
		awk '/created/ { sub(/.*created /, \"\"); sub(/,.*/, \"\"); exit !(\$0 < $(($(date +%s) - 86400))) }'"
assemble revsig "revsig@smilla.test" pgp
result revsig "PGP/MIME by a key revoked after it signed (the revocation in the record)" \
	"$A x-pgp=fail$(reason 'revoked[^"]*') header\\.from=revsig@smilla\\.test body\\.x-pgp-fingerprint=$(fpr revsig)" \
	'verify=pgp-mime:fail signer=revsig@smilla\.test verify_reason="revoked[^"]*"'

# ------------------------------------------------------------------ 4. neutral

part nora >"$work/msg/nora.part"
cms_sign nora nora
assemble nora "Nora <nora@smilla.test>" smime
result nora "S/MIME, no SMIMEA for the From address" \
	"$A smime=neutral$(reason 'no SMIMEA record for the From address') body\\.smime-identifier=nora@smilla\\.test body\\.smime-serial=$(serial nora) body\\.smime-issuer=$(re "$issuer")" \
	'verify=smime:neutral signer=nora@smilla\.test verify_reason="no SMIMEA record for the From address"'

part ivan >"$work/msg/ivan.part"
cms_sign ivan ivan
assemble ivan "ivan@insecure.smilla.test" smime
result ivan "S/MIME, SMIMEA in the unsigned zone" \
	"$A smime=neutral$(reason 'SMIMEA not DNSSEC-signed') body\\.smime-identifier=ivan@insecure\\.smilla\\.test body\\.smime-serial=$(serial ivan) body\\.smime-issuer=$(re "$issuer")" \
	'verify=smime:neutral signer=ivan@insecure\.smilla\.test verify_reason="SMIMEA not DNSSEC-signed"'

part pgp-insecure >"$work/msg/pgp-insecure.part"
gpg_sign pgp-insecure insecure
assemble pgp-insecure "pgp@insecure.smilla.test" pgp
result pgp-insecure "PGP/MIME, OPENPGPKEY in the unsigned zone" \
	"$A x-pgp=neutral$(reason 'OPENPGPKEY not DNSSEC-signed') header\\.from=pgp@insecure\\.smilla\\.test" \
	'verify=pgp-mime:neutral signer=pgp@insecure\.smilla\.test verify_reason="OPENPGPKEY not DNSSEC-signed"'

# ------------------------------------------------------------------ 5. temperror

slow_t0=$EPOCHREALTIME
part sam >"$work/msg/sam.part"
cms_sign sam sam
assemble sam "sam@slow.smilla.test" smime
result sam "S/MIME, the From address's zone does not answer" \
	"$A smime=temperror$(reason 'SMIMEA lookup: timeout') body\\.smime-identifier=sam@slow\\.smilla\\.test body\\.smime-serial=$(serial sam) body\\.smime-issuer=$(re "$issuer")" \
	'verify=smime:temperror signer=sam@slow\.smilla\.test verify_reason="SMIMEA lookup: timeout"'
echo "# the timeout case: $(awk -v a="$slow_t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }') s (dns_timeout = 3)"

part eve >"$work/msg/eve.part"
cms_sign eve eve
assemble eve "eve@bogus.smilla.test" smime
result eve "S/MIME, SMIMEA in the bogus zone (signatures expired): temperror, never pass" \
	"$A smime=temperror$(reason 'SMIMEA DNSSEC-bogus: validation failure [^"]*signature expired[^"]*') body\\.smime-identifier=eve@bogus\\.smilla\\.test body\\.smime-serial=$(serial eve) body\\.smime-issuer=$(re "$issuer")" \
	'verify=smime:temperror signer=eve@bogus\.smilla\.test verify_reason="SMIMEA DNSSEC-bogus: [^"]*"'

part pgp-bogus >"$work/msg/pgp-bogus.part"
gpg_sign pgp-bogus bogus
assemble pgp-bogus "pgp@bogus.smilla.test" pgp
result pgp-bogus "PGP/MIME, OPENPGPKEY in the bogus zone" \
	"$A x-pgp=temperror$(reason 'OPENPGPKEY DNSSEC-bogus: [^"]*') header\\.from=pgp@bogus\\.smilla\\.test" \
	'verify=pgp-mime:temperror signer=pgp@bogus\.smilla\.test verify_reason="OPENPGPKEY DNSSEC-bogus: [^"]*"'

# ------------------------------------------------------------------ 6. permerror

part truncated >"$work/msg/truncated.part"
cms_sign truncated alice
head -c 600 "$work/msg/truncated.sig" >"$work/msg/truncated.cut" && mv "$work/msg/truncated.cut" "$work/msg/truncated.sig"
assemble truncated "Alice <alice@smilla.test>" smime
result truncated "S/MIME, the signature cut after 600 octets" \
	"$A smime=permerror$(reason '[^"]+') body\\.smime-identifier=alice@smilla\\.test" \
	'verify=smime:permerror signer=alice@smilla\.test verify_reason="[^"]+"'

part twofrom >"$work/msg/twofrom.part"
cms_sign twofrom alice
assemble twofrom "Alice <alice@smilla.test>, bob@smilla.test" smime
result twofrom "S/MIME, two addresses in From" \
	"$A smime=permerror$(reason '2 addresses in From')" \
	'verify=smime:permerror signer=- verify_reason="2 addresses in From"'

part twofields >"$work/msg/twofields.part"
cms_sign twofields alice
EXTRA="From: Mallory <mallory@client.test>"
assemble twofields "Alice <alice@smilla.test>" smime
EXTRA=""
result twofields "S/MIME, two From fields" \
	"$A smime=permerror$(reason '2 From fields')" \
	'verify=smime:permerror signer=- verify_reason="2 From fields"'

# ------------------------------------------------------------------ 7. not checked

# Unsigned: no header of ours, the forged one removed all the same.
{
	printf 'From: Alice <alice@smilla.test>\r\nTo: %s\r\nSubject: milter-unsigned\r\n' "$RCPT"
	printf 'Date: %s\r\nMessage-ID: <unsigned.%s@client.test>\r\n' "$(date -R)" "$$"
	printf 'Authentication-Results: %s; smime=pass (forged)\r\n' "$AUTHSERV"
	printf 'Authentication-Results: other.example; spf=pass smtp.mailfrom=client.test\r\n'
	printf 'MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nNot signed.\r\n'
} >"$work/msg/unsigned.eml"
wire unsigned
got unsigned 0 "unsigned mail with a forged Authentication-Results"
is "$a" "other.example; spf=pass smtp.mailfrom=client.test" \
	"  no result of ours, the forged one removed, other.example's kept"
unlike "$l" ' verify=' "  no verify= in the log line"

# Encrypted to the local user: the signature inside cannot be checked.
part inner >"$work/msg/inner.part"
cms_sign inner alice
{ entity_of smime inner; } >"$work/msg/inner.entity"
openssl cms -encrypt -binary -aes256 -in "$work/msg/inner.entity" -outform DER \
	-out "$work/msg/inner.p7m" "$certs/carol.pem" 2>"$work/out/inner.enc.err"
{
	printf 'From: Alice <alice@smilla.test>\r\nTo: %s\r\nSubject: milter-encrypted\r\n' "$RCPT"
	printf 'Date: %s\r\nMessage-ID: <encrypted.%s@client.test>\r\n' "$(date -R)" "$$"
	printf 'Authentication-Results: %s; smime=pass (forged)\r\n' "$AUTHSERV"
	printf 'MIME-Version: 1.0\r\nContent-Type: application/pkcs7-mime; smime-type=enveloped-data; name="smime.p7m"\r\n'
	printf 'Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename="smime.p7m"\r\n\r\n'
	base64 -w 76 "$work/msg/inner.p7m" | sed 's/$/\r/'
} >"$work/msg/encrypted.eml"
wire encrypted
got encrypted 0 "S/MIME encrypted (signed inside) to the local user"
is "$a" "" "  no Authentication-Results (the forged one removed)"
like "$l" ' action=untouched reason="already-encrypted" verify=encrypted size=' \
	"  log: verify=encrypted"

# The same as PGP/MIME (multipart/encrypted), signed inside by bob.
part pgp-inner >"$work/msg/pgp-inner.part"
gpg_sign pgp-inner bob
{ entity_of pgp pgp-inner; } >"$work/msg/pgp-inner.entity"
gpg --homedir "$pg" --batch --trust-model always --recipient-file "$keys/carol.pgp" \
	--armor --output "$work/msg/pgp-inner.asc" --encrypt "$work/msg/pgp-inner.entity" \
	2>"$work/out/pgp-inner.enc.err"
{
	printf 'From: Bob <bob@smilla.test>\r\nTo: %s\r\nSubject: milter-pgp-encrypted\r\n' "$RCPT"
	printf 'Date: %s\r\nMessage-ID: <pgp-encrypted.%s@client.test>\r\n' "$(date -R)" "$$"
	printf 'MIME-Version: 1.0\r\nContent-Type: multipart/encrypted; protocol="application/pgp-encrypted";\r\n'
	printf '\tboundary="=-encrypted"\r\n\r\n--=-encrypted\r\nContent-Type: application/pgp-encrypted\r\n\r\n'
	printf 'Version: 1\r\n\r\n--=-encrypted\r\nContent-Type: application/octet-stream; name="encrypted.asc"\r\n\r\n'
	sed 's/$/\r/' "$work/msg/pgp-inner.asc"
	printf '\r\n--=-encrypted--\r\n'
} >"$work/msg/pgp-encrypted.eml"
wire pgp-encrypted
got pgp-encrypted 0 "PGP/MIME encrypted (signed inside) to the local user"
is "$a" "" "  no Authentication-Results"
like "$l" ' action=untouched reason="already-encrypted" verify=encrypted size=' \
	"  log: verify=encrypted"

# ------------------------------------------------------------------ the end

mta_end "$total"

# The reputation rows of the senders (written at the latest when the
# milter stops): identity, result (neutral is "none", permerror
# "unusable"), kind of key, the signer's fingerprint: the certificate's
# SHA-256 once the S/MIME signature verified; for OpenPGP the key that
# made the signature, or the one it names when that is not published
# (no fingerprint for the tampered or truncated S/MIME, nor for OpenPGP
# when the sender's records could not be had).  No row without one From
# address.
cert_fp() { openssl x509 -in "$certs/$1.pem" -outform DER | openssl dgst -sha256 -r | cut -d' ' -f1; }
rows=$(sqlite3 -separator ' ' "$work/v.db" "SELECT DISTINCT identity, result, key_type,
	ifnull(key_fp, '') FROM rep_events WHERE source = 'milter'
	AND key_type IN ('smime-signer', 'pgp-signer') ORDER BY 1, 2, 3, 4")
want=$(sort <<EOF
alice@smilla.test fail smime-signer 
alice@smilla.test fail smime-signer $(cert_fp impostor)
alice@smilla.test pass smime-signer $(cert_fp alice)
alice@smilla.test unusable smime-signer 
bob@smilla.test fail pgp-signer $(fpr bob)
bob@smilla.test fail pgp-signer $(fpr impostor)
bob@smilla.test pass pgp-signer $(fpr bob)
eve@bogus.smilla.test temperror smime-signer $(cert_fp eve)
frank@smilla.test pass smime-signer $(cert_fp frank)
ivan@insecure.smilla.test none smime-signer $(cert_fp ivan)
nora@smilla.test none smime-signer $(cert_fp nora)
pgp@bogus.smilla.test temperror pgp-signer 
pgp@insecure.smilla.test none pgp-signer 
revsig@smilla.test fail pgp-signer $(fpr revsig)
sam@slow.smilla.test temperror smime-signer $(cert_fp sam)
EOF
)
is "$rows" "$want" "reputation: a row per sender and result, smime-signer/pgp-signer, the signer's fingerprint"

agents_kill
nothing_left "milter, Postfix, gpg-agents"
echo "# verify.t: $(awk -v a="$t_start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }') s"
trap - EXIT
done_testing
