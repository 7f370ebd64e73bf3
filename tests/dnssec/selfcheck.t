#!/bin/sh
# smillactl selfcheck and rollover against the DNSSEC test bed: our
# client identity as Postfix's settings give it (private config
# directories read with postconf -c) or as files, checked against the
# bed's _smtp-client TLSA records; the smtpd settings smilla needs; the
# publication of addresses' keys; the plan of a key change.
set -eu
. "$(dirname "$0")/../lib/tap.sh"
require_bed

ctl="$SMILLA_BUILD/smillactl"
conf="$BED_DIR/smilla.conf"
certs="$BED_DIR/certs"
C() { run "$ctl" -c "$conf" "$@"; }
# json EXPR: print the Perl EXPR over $out's JSON ($j); st(CHECK[,
# SUBJECT]) the statuses of those findings, first(CHECK, FIELD) a field
# of the first.
json() {
	printf '%s' "$out" | perl -MJSON::PP -e '
		my $j = decode_json(join "", <STDIN>);
		sub st { my ($c, $s) = @_; join " ", map { $_->{status} }
			grep { $_->{check} eq $c && (!defined $s || $_->{subject} eq $s) }
			@{$j->{checks}} }
		sub first { my ($c, $f) = @_;
			(grep { $_->{check} eq $c } @{$j->{checks}})[0]->{$f} }
		print '"$1"
}
# postfix_dir NAME LINES [MASTER]: a Postfix config directory with
# main.cf LINES and master.cf MASTER (empty without).
postfix_dir() {
	mkdir -p "$BED_DIR/pf-$1"
	printf '%s\n' "${3:-}" >"$BED_DIR/pf-$1/master.cf"
	printf '%s\n' "$2" >"$BED_DIR/pf-$1/main.cf"
	pf="$BED_DIR/pf-$1"
}
# stderr ARGS...: smillactl's standard error alone, into $err.
stderr() { err=$("$ctl" -c "$conf" "$@" 2>&1 >/dev/null) || true; }
good_spki_rec="_smtp-client.good.smilla.test. IN TLSA 3 1 1 $GOOD_SPKI_SHA256"
other_spki=$OTHER_SPKI_SHA256

# ---- Postfix as smilla needs it, presenting the good certificate ----
postfix_dir good "compatibility_level = 3.6
smtp_tls_chain_files = $certs/good.key, $certs/good-fullchain.pem
smtp_helo_name = good.smilla.test
smtpd_tls_ask_ccert = yes
smtpd_tls_fingerprint_digest = sha256
smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination,
  check_policy_service { unix:/run/smilla/policyd.sock, timeout=10s }"
C selfcheck --postconf-dir "$pf"
is "$rc" 0 "good identity from Postfix's settings: exit 0"
like "$out" '^pass +key +smtp_tls_chain_files key 1: the private key is the certificate' \
	"  key and certificate from smtp_tls_chain_files (separate files) belong together"
like "$out" '^pass +tlsa +_smtp-client\.good\.smilla\.test: secure; .* record 3 1 1 \(ttl 300\)$' \
	"  the published record authenticates it, with its TTL"
like "$out" '^pass +setting +smtpd_tls_ask_ccert:' "  smtpd_tls_ask_ccert = yes"
like "$out" '^pass +setting +smtpd_tls_fingerprint_digest: sha256' "  digest as smilla's"
like "$out" '^pass +setting +smtpd_recipient_restrictions: check_policy_service unix:/run/smilla/policyd\.sock' \
	"  the policy service is smilla-policyd's socket (braced form)"
like "$out" '^result: pass$' "  result pass"
unlike "$out" '^fail' "  no failure"

C selfcheck --postconf-dir "$pf" --json
is "$(json 'join ",", $j->{command}, $j->{result}, st("tlsa"), st("key")')" \
	"selfcheck,pass,pass,pass" "  --json: command, result, per-check status"

# ---- the same Postfix, but the HELO name publishes another key ----
postfix_dir bad "compatibility_level = 3.6
smtp_tls_cert_file = $certs/good.pem
smtp_tls_key_file = $certs/good.key
myhostname = bad.smilla.test
smtpd_tls_ask_ccert = yes
smtpd_recipient_restrictions = reject_unauth_destination, check_policy_service unix:/run/smilla/policyd.sock"
C selfcheck --postconf-dir "$pf"
is "$rc" 1 "mismatching identity (myhostname, cert and key files): exit 1"
like "$out" '^info +helo +bad\.smilla\.test: .*_smtp-client\.bad\.smilla\.test' \
	"  myhostname is the HELO name when smtp_helo_name is empty"
like "$out" '^fail +tlsa +_smtp-client\.bad\.smilla\.test: secure, but .* does not authenticate \(fail\); 3 1 1: end-entity public key does not match' \
	"  the record does not match, with each record's reason"
like "$out" "^      fix: publish: _smtp-client\.bad\.smilla\.test\. IN TLSA 3 1 1 $GOOD_SPKI_SHA256\$" \
	"  the record to publish"
C gen tlsa --cert "$certs/good.pem" --name bad.smilla.test
gen=$out
C selfcheck --postconf-dir "$pf" --json
is "$(json 'first("tlsa", "fix")')" "publish: $gen" \
	"  the record to publish is what gen tlsa prints"
is "$(json 'st("tlsa")')" fail "  --json: tlsa fail"

# ---- an unpublished name, a key of another certificate, settings off ----
postfix_dir unpub "compatibility_level = 3.6
smtp_tls_chain_files = $certs/other.key $certs/good.pem
smtp_helo_name = unpublished.smilla.test
smtpd_tls_fingerprint_digest = md5
smtpd_client_restrictions = check_policy_service inet:127.0.0.1:9999"
C selfcheck --postconf-dir "$pf"
is "$rc" 1 "unpublished identity: exit 1"
like "$out" '^fail +key +smtp_tls_chain_files key 1: the private key is not the certificate' \
	"  a key that is not the certificate's"
like "$out" '^fail +tlsa +_smtp-client\.unpublished\.smilla\.test: no record \(nxdomain\)$' \
	"  no record"
like "$out" "^      fix: publish: _smtp-client\.unpublished\.smilla\.test\. IN TLSA 3 1 1 $GOOD_SPKI_SHA256\$" \
	"  the record to publish"
like "$out" '^fail +setting +smtpd_tls_ask_ccert: "no"' "  smtpd_tls_ask_ccert off (default)"
like "$out" '^      fix: postconf -e smtpd_tls_ask_ccert=yes$' "  what to set"
like "$out" '^fail +setting +smtpd_tls_fingerprint_digest: "md5", smilla.s fingerprint_digest is sha256' \
	"  digest differs from smilla's"
like "$out" '^fail +setting +check_policy_service: no smtpd_\*_restrictions ask smilla-policyd .*other policy services: inet:127\.0\.0\.1:9999' \
	"  another policy service is not smilla's"
like "$out" '^result: fail$' "  result fail"

# The same with the files given: no Postfix settings checked.
C selfcheck --cert "$certs/good.pem" --key "$certs/good.key" --helo unpublished.smilla.test
is "$rc" 1 "unpublished identity from files: exit 1"
unlike "$out" 'setting' "  Postfix's settings are not checked"
C selfcheck --cert "$certs/good.pem" --key "$certs/good.key" --chain "$certs/chain.pem" \
	--helo good.smilla.test
is "$rc" 0 "good identity from files: exit 0"
C selfcheck --cert "$certs/ta.pem" --key "$certs/ta.key" --chain "$certs/chain.pem" \
	--helo ta.smilla.test
is "$rc" 0 "DANE-TA identity with its chain from files: exit 0"
C selfcheck --cert "$certs/good.pem" --helo host.bogus.smilla.test
is "$rc" 1 "bogus TLSA: exit 1"
like "$out" '^fail +tlsa +_smtp-client\.host\.bogus\.smilla\.test: bogus: ' "  says bogus"
C selfcheck --cert "$certs/good.pem" --key "$certs/good.key" --helo host.insecure.smilla.test
like "$out" '^fail +tlsa .*insecure: DANE ignores them' "insecure TLSA: fail, says why"
C selfcheck --cert "$certs/good.pem" --helo host.slow.smilla.test
is "$rc" 2 "unresponsive server: exit 2"
like "$out" '^error +tlsa .*lookup failed: timeout' "  says timeout"

# ---- --email: what senders find for our addresses ----
C selfcheck --cert "$certs/good.pem" --key "$certs/good.key" --helo good.smilla.test \
	--email alice@smilla.test --email bob@smilla.test
is "$rc" 0 "alice (S/MIME) and bob (OpenPGP): exit 0"
like "$out" '^pass +smimea +alice@smilla\.test: secure, usable: /CN=alice.*, valid until [0-9-]+ ' \
	"  alice's certificate usable, with its end"
like "$out" '^info +openpgpkey +alice@smilla\.test: no record' "  alice has no OpenPGP key: only noted"
like "$out" "^pass +openpgpkey +bob@smilla\\.test: secure, usable: $BOB_FPR, does not expire\$" \
	"  bob's key usable, fingerprint named"
C selfcheck --cert "$certs/good.pem" --key "$certs/good.key" --helo good.smilla.test \
	--email expired@smilla.test --json
is "$rc" 1 "an address whose key expired: exit 1"
like "$(json 'first("openpgpkey", "detail")')" \
	'^secure, no record usable for encryption: expired .*encryption key [0-9A-F]+ expired' \
	"  the milter's reason: expired"
C selfcheck --cert "$certs/good.pem" --key "$certs/good.key" --helo good.smilla.test \
	--email soon@smilla.test
is "$rc" 1 "an address whose key expires in 10 days: exit 1"
like "$out" '^fail +openpgpkey +soon@smilla\.test: secure, usable: [0-9A-F]{40}, but it expires on [-0-9]+ [0-9:]+ UTC, in 9 days$' \
	"  usable, but not for 30 days"
like "$out" '^      fix: publish a renewed key now$' "  what to do"
C selfcheck --cert "$certs/good.pem" --key "$certs/good.key" --helo good.smilla.test \
	--email nora@smilla.test
is "$rc" 1 "an address with no key: exit 1"
like "$out" '^fail +email +nora@smilla\.test: no key published' "  says so"
C selfcheck --cert "$certs/good.pem" --key "$certs/good.key" --helo good.smilla.test \
	--email sig@smilla.test --email eve@bogus.smilla.test
like "$out" '^fail +smimea +sig@smilla\.test: secure, no record usable for encryption: .*keyEncipherment' \
	"  a certificate that cannot encrypt"
like "$out" '^fail +smimea +eve@bogus\.smilla\.test: bogus' "  a bogus SMIMEA"

# ---- master.cf overrides of the default transport's service ----
# What smilla needs of smtpd, the same in every directory below.
smtpd="smtpd_tls_ask_ccert = yes
smtpd_recipient_restrictions = reject_unauth_destination, check_policy_service unix:/run/smilla/policyd.sock"
# main CERT KEY HELO [LINES]: main.cf presenting CERT (KEY: its key
# file, none to leave it to its default), with $smtpd and LINES.
main() {
	printf 'compatibility_level = 3.6\nsmtp_tls_cert_file = %s\n' "$1"
	[ -z "$2" ] || printf 'smtp_tls_key_file = %s\n' "$2"
	printf 'smtp_helo_name = %s\n%s\n%s' "$3" "$smtpd" "${4:-}"
}
# svc NAME LINES...: a master.cf smtp (or relay) service with -o LINES.
svc() { printf '%s unix - - n - - smtp\n' "$1"; shift; printf '  -o %s\n' "$@"; }

postfix_dir over-good "$(main "$certs/other.pem" "$certs/other.key" good.smilla.test)" \
	"$(svc smtp "smtp_tls_cert_file=$certs/good.pem" "smtp_tls_key_file=$certs/good.key")"
C selfcheck --postconf-dir "$pf"
is "$rc" 0 "main.cf presents a mismatching certificate, master.cf smtp's -o the good one: exit 0"
like "$out" "^info +override +smtp_tls_cert_file: master\\.cf smtp/unix overrides smtp_tls_cert_file = $certs/good\\.pem \\(main\\.cf: $certs/other\\.pem\\)\$" \
	"  the override named, with main.cf's value"
like "$out" "^info +override +smtp_tls_key_file: master\\.cf smtp/unix overrides smtp_tls_key_file = $certs/good\\.key" \
	"  its key too"
like "$out" "^pass +key +$certs/good\\.key: " "  the overriding key is checked"
like "$out" "^pass +tlsa +_smtp-client\\.good\\.smilla\\.test: secure; $certs/good\\.pem \\(smtp_tls_cert_file in master\\.cf smtp/unix\\) authenticates" \
	"  the overriding certificate authenticates, master.cf named"
unlike "$out" 'other\.pem \(' "  main.cf's certificate is not checked"
C selfcheck --postconf-dir "$pf" --json
is "$(json 'join ",", $j->{result}, st("override"), st("tlsa"), first("override", "detail")')" \
	"pass,info info,pass,master.cf smtp/unix overrides smtp_tls_cert_file = $certs/good.pem (main.cf: $certs/other.pem)" \
	"  --json: the overrides as info findings"
stderr selfcheck --postconf-dir "$pf"
is "$err" "" "  nothing on stderr"
C rollover --cert "$certs/other.pem" --name good.smilla.test --postconf-dir "$pf"
like "$out" "^pass +current +$certs/good\\.pem: authenticates" \
	"  rollover's current certificate is the override too"

postfix_dir over-bad "$(main "$certs/good.pem" "$certs/good.key" good.smilla.test)" \
	"$(svc smtp "smtp_tls_cert_file=$certs/other.pem" "smtp_tls_key_file=$certs/other.key")"
C selfcheck --postconf-dir "$pf"
is "$rc" 1 "main.cf presents the good certificate, master.cf smtp's -o a mismatching one: exit 1"
like "$out" "^fail +tlsa +_smtp-client\\.good\\.smilla\\.test: secure, but $certs/other\\.pem \\(smtp_tls_cert_file in master\\.cf smtp/unix\\) does not authenticate \\(fail\\)" \
	"  the failure names master.cf's smtp service"
like "$out" "^info +override +smtp_tls_cert_file: master\\.cf smtp/unix overrides" "  the override noted"
like "$out" "^      fix: publish: _smtp-client\\.good\\.smilla\\.test\\. IN TLSA 3 1 1 $other_spki\$" \
	"  the record to publish is the override's"

# A certificate file holding its key, overridden alone: the key
# (main.cf's default, \$smtp_tls_cert_file) follows it.
cat "$certs/good.pem" "$certs/good.key" >"$BED_DIR/good-both.pem"
postfix_dir over-follow "$(main "$certs/other.pem" "" good.smilla.test)" \
	"$(svc smtp "smtp_tls_cert_file=$BED_DIR/good-both.pem")"
C selfcheck --postconf-dir "$pf"
is "$rc" 0 "an overridden certificate file with the key in it, key file left to its default: exit 0"
like "$out" "^pass +key +$BED_DIR/good-both\\.pem: the private key is the certificate" \
	"  the key is read from the overriding file"

postfix_dir over-helo "$(main "$certs/good.pem" "$certs/good.key" bad.smilla.test)" \
	"$(svc smtp "smtp_helo_name=good.smilla.test")"
C selfcheck --postconf-dir "$pf"
is "$rc" 0 "master.cf -o smtp_helo_name: exit 0 (main.cf's name publishes another key)"
like "$out" '^info +helo +good\.smilla\.test: our client identity, TLSA at _smtp-client\.good\.smilla\.test, from smtp_helo_name in master\.cf smtp/unix$' \
	"  the overriding name is looked up, its origin named"
unlike "$out" '_smtp-client\.bad\.' "  main.cf's name is not"
like "$out" '^info +override +smtp_helo_name: master\.cf smtp/unix overrides smtp_helo_name = good\.smilla\.test \(main\.cf: bad\.smilla\.test\)$' \
	"  the override noted"

postfix_dir relay "$(main "$certs/other.pem" "$certs/other.key" good.smilla.test "default_transport = relay:[mx.smilla.test]:25")" \
	"$(svc smtp "smtp_tls_cert_file=$certs/other.pem")
$(svc relay "smtp_tls_cert_file=$certs/good.pem" "smtp_tls_key_file=$certs/good.key")"
C selfcheck --postconf-dir "$pf"
is "$rc" 0 "default_transport = relay:[...]: relay's overrides apply: exit 0"
like "$out" '^info +override +smtp_tls_cert_file: master\.cf relay/unix overrides' \
	"  the relay service named"
unlike "$out" 'smtp/unix' "  the smtp service is not read"

postfix_dir relay-none "$(main "$certs/good.pem" "$certs/good.key" good.smilla.test "default_transport = relay")" \
	"$(svc smtp "smtp_tls_cert_file=$certs/other.pem" "smtp_tls_key_file=$certs/other.key")
relay unix - - n - - smtp"
C selfcheck --postconf-dir "$pf"
is "$rc" 0 "the default transport without overrides (another service has some): exit 0"
unlike "$out" 'override|master\.cf|other\.pem' "  no override reported, main.cf's certificate checked"
like "$out" "^pass +tlsa .*$certs/good\\.pem \\(smtp_tls_cert_file in main\\.cf\\) authenticates" \
	"  main.cf named as the origin"
stderr selfcheck --postconf-dir "$pf"
is "$err" "" "  nothing on stderr (postconf's 'unmatched request' kept back)"

# A master.cf postconf -P cannot read: an error naming the command.
rm "$pf/master.cf"
C selfcheck --postconf-dir "$pf"
is "$rc" 78 "postconf -P fails (no master.cf): exit 78"
like "$out" "^smillactl: postconf -c $pf -P -x 'relay/unix/\\*' failed: postconf: fatal: .*master\\.cf" \
	"  the command named, with postconf's reason"

# ---- the legacy certificate parameters: one identity each ----
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
	-subj /CN=ec.smilla.test -keyout "$BED_DIR/ec.key" -out "$BED_DIR/ec.pem" 2>/dev/null
postfix_dir eccert "$(main "$certs/good.pem" "$certs/good.key" good.smilla.test "smtp_tls_eccert_file = $BED_DIR/ec.pem
smtp_tls_eckey_file = $BED_DIR/ec.key")"
C selfcheck --postconf-dir "$pf"
is "$rc" 1 "a good RSA certificate and an unpublished ECDSA one: exit 1"
like "$out" "^pass +tlsa +_smtp-client\\.good\\.smilla\\.test: secure; $certs/good\\.pem \\(smtp_tls_cert_file in main\\.cf\\) authenticates" \
	"  the RSA certificate authenticates"
like "$out" "^fail +tlsa +_smtp-client\\.good\\.smilla\\.test: secure, but $BED_DIR/ec\\.pem \\(smtp_tls_eccert_file in main\\.cf\\) does not authenticate" \
	"  the ECDSA one does not"
like "$out" "^pass +key +$BED_DIR/ec\\.key: the private key is the certificate" "  its own key checked"
like "$out" "^info +certificate +$BED_DIR/ec\\.pem: /?CN ?= ?ec\\.smilla\\.test" "  its certificate shown"
C selfcheck --postconf-dir "$pf" --json
is "$(json 'join ",", $j->{result}, st("tlsa"), st("key"), st("certificate")')" \
	"fail,pass fail,pass pass,info info" "  --json: one finding per identity"

# Every slot with the good certificate; the ECDSA slot's key in its
# certificate file (smtp_tls_eckey_file empty).
postfix_dir legacy-good "$(main "$certs/good.pem" "$certs/good.key" good.smilla.test "smtp_tls_eccert_file = $BED_DIR/good-both.pem
smtp_tls_eckey_file =
smtp_tls_dcert_file = $certs/good.pem
smtp_tls_dkey_file = $certs/good.key")"
C selfcheck --postconf-dir "$pf"
is "$rc" 0 "cert, eccert and dcert files all authenticate: exit 0"
like "$out" "^pass +key +$BED_DIR/good-both\\.pem: " "  an empty eckey_file: the key is in the eccert file"
C selfcheck --postconf-dir "$pf" --json
is "$(json 'join ",", $j->{result}, st("tlsa"), st("key")')" \
	"pass,pass pass pass,pass pass pass" "  --json: three identities, three passes"
like "$(json 'join "|", map { $_->{detail} } grep { $_->{check} eq "tlsa" } @{$j->{checks}}')" \
	'smtp_tls_cert_file in main\.cf.*\|.*smtp_tls_eccert_file in main\.cf.*\|.*smtp_tls_dcert_file in main\.cf' \
	"  in Postfix's order, each parameter named"

# ---- rollover ----
# roll.smilla.test publishes both: the current key (good) and the next (other).
C rollover --cert "$certs/other.pem" --name roll.smilla.test --current "$certs/good.pem"
is "$rc" 0 "rollover with both records published: exit 0"
like "$out" '^pass +tlsa +_smtp-client\.roll\.smilla\.test: secure, 2 records, ttl 300$' \
	"  the live RRset and its TTL"
like "$out" '^pass +current .*good\.pem: authenticates with record 3 1 1$' "  current key matches"
like "$out" '^done +1-publish .*other\.pem: the new certificate authenticates already' \
	"  the new record is published already"
like "$out" '^info +2-wait .*: 300 seconds, the RRset.s TTL' "  wait the TTL"
like "$out" "^      fix: remove: _smtp-client\\.roll\\.smilla\\.test\\. IN TLSA 3 1 1 $GOOD_SPKI_SHA256\$" \
	"  the old record to remove afterwards"
C rollover --cert "$certs/other.pem" --name roll.smilla.test --current "$certs/good.pem" --json
is "$(json 'join ",", $j->{result}, $j->{ttl}, $j->{publish}, @{$j->{remove}}')" \
	"pass,300,_smtp-client.roll.smilla.test. IN TLSA 3 1 1 $other_spki,$(echo "$good_spki_rec" | sed 's/good/roll/')" \
	"  --json: ttl, the record to publish, the record to remove"

# Both identities pass selfcheck in between.
C selfcheck --cert "$certs/good.pem" --key "$certs/good.key" --helo roll.smilla.test
is "$rc" 0 "  selfcheck passes with the current key"
C selfcheck --cert "$certs/other.pem" --key "$certs/other.key" --helo roll.smilla.test
is "$rc" 0 "  selfcheck passes with the next key"

# The current key from Postfix's settings; the next not yet published.
C rollover --cert "$certs/other.pem" --name good.smilla.test --postconf-dir "$BED_DIR/pf-good"
is "$rc" 1 "rollover before publishing: exit 1"
like "$out" '^pass +current +smtp_tls_chain_files key 1: authenticates' "  current key from Postfix"
like "$out" "^todo +1-publish .*other\\.pem: publish the new record" "  publish first"
C gen tlsa --cert "$certs/other.pem" --name good.smilla.test
like "$out" "^_smtp-client.good.smilla.test. IN TLSA 3 1 1 $other_spki\$" "  gen tlsa for the new key"
gen=$out
C rollover --cert "$certs/other.pem" --name good.smilla.test --postconf-dir "$BED_DIR/pf-good"
like "$out" "^      fix: publish: $gen\$" "  the record to publish is gen tlsa's"
like "$out" '^todo +2-wait .*300 seconds.*at the earliest' "  then wait the TTL"

# The live records do not match the current key.
C rollover --cert "$certs/good.pem" --name bad.smilla.test --current "$certs/self.pem"
is "$rc" 1 "rollover from a key the records do not match: exit 1"
like "$out" '^fail +current .*self\.pem: does not authenticate' "  says so"

# ---- usage and errors ----
C rollover --name roll.smilla.test
is "$rc" 64 "rollover without --cert: usage error"
C selfcheck --cert "$certs/good.pem"
is "$rc" 64 "selfcheck --cert without --helo: usage error"
C selfcheck --postconf-dir "$BED_DIR/nothere"
is "$rc" 78 "selfcheck with a missing Postfix config directory: exit 78"
C selfcheck --cert "$BED_DIR/nothere.pem" --helo good.smilla.test
is "$rc" 66 "missing certificate file: exit 66"

done_testing
