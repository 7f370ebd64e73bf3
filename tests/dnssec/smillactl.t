#!/bin/sh
# smillactl against the DNSSEC test bed: every status word from a real
# lookup, verify for each record form, gen output that matches what the
# zone publishes, and the exit codes scripts rely on.
set -eu
. "$(dirname "$0")/../lib/tap.sh"
require_bed

ctl="$SMILLA_BUILD/smillactl"
conf="$BED_DIR/smilla.conf"
certs="$BED_DIR/certs"
C() { run "$ctl" -c "$conf" "$@"; }

# ---- lookup: one status word per case, and the exit code ----
C lookup tlsa good.smilla.test
is "$rc" 0 "lookup secure: exit 0"
like "$out" '^; _smtp-client\.good\.smilla\.test TLSA: secure$' "  status secure"
like "$out" "^_smtp-client\.good\.smilla\.test\. [0-9]+ IN TLSA 3 1 1 $GOOD_SPKI_SHA256\$" \
	"  record in zone-file form"

C lookup tlsa host.insecure.smilla.test
is "$rc" 1 "lookup insecure: exit 1"
like "$out" 'TLSA: insecure$' "  status insecure"

C lookup tlsa host.bogus.smilla.test
is "$rc" 2 "lookup bogus: exit 2"
like "$out" 'TLSA: bogus \(.+\)$' "  status bogus with a reason"
like "$out" '^; _smtp-client\.host\.bogus\.smilla\.test\. .* TLSA 3 1 1' \
	"  bogus data only as a comment"

C lookup tlsa nothere.smilla.test
is "$rc" 1 "lookup nxdomain: exit 1"
like "$out" 'TLSA: nxdomain$' "  status nxdomain"

C lookup tlsa nodata.smilla.test
is "$rc" 1 "lookup no data: exit 1"
like "$out" 'TLSA: nodata$' "  status nodata"

C lookup tlsa host.slow.smilla.test
is "$rc" 2 "lookup unresponsive server: exit 2"
like "$out" 'TLSA: timeout' "  status timeout"

C lookup tlsa malformed.smilla.test
is "$rc" 0 "lookup malformed records: secure data, exit 0"
like "$out" 'unusable: SHA2-256 digest of 4 octets, expected 32' \
	"  short digest reported unusable"
like "$out" 'unusable: no certificate association data' "  record without data reported unusable"
like "$out" 'TLSA \\# 3 030101' "  printed in generic form"

C lookup tlsa _smtp-client.cert.smilla.test
is "$rc" 0 "explicit owner name"
like "$out" 'TLSA 3 0 1 ' "  3 0 1 record"

C lookup smimea alice@smilla.test
is "$rc" 0 "lookup smimea: exit 0"
like "$out" "^; $ALICE_HASH\._smimecert\.smilla\.test SMIMEA: secure\$" \
	"  hashed owner name, secure"
like "$out" 'IN SMIMEA 3 0 0 3082' "  full certificate record"
like "$out" 'certificate .*alice' "  certificate subject shown"

C lookup openpgpkey bob@smilla.test
is "$rc" 0 "lookup openpgpkey: exit 0"
like "$out" "^; $BOB_HASH\._openpgpkey\.smilla\.test OPENPGPKEY: secure\$" \
	"  hashed owner name, secure"
like "$out" 'key [0-9A-F]{40} Bob <bob@smilla\.test>' "  key fingerprint and uid"

C lookup smimea nobody@smilla.test
is "$rc" 1 "lookup smimea without record: exit 1"

C lookup tlsa good.smilla.test --json
is "$rc" 0 "json lookup"
status=$(printf '%s' "$out" | perl -MJSON::PP -e '
	my $j = decode_json(join "", <STDIN>);
	print "$j->{status} $j->{type} ", scalar @{$j->{records}}, " $j->{records}[0]{usable}"')
is "$status" "secure TLSA 1 1" "  JSON parses: status, type, records"

C lookup tlsa host.bogus.smilla.test --json
status=$(printf '%s' "$out" | perl -MJSON::PP -e '
	my $j = decode_json(join "", <STDIN>); print $j->{status}')
is "$status" bogus "  JSON bogus"

# ---- verify ----
for host in good cert sha512 full; do
	C verify --cert "$certs/good.pem" --name "$host.smilla.test"
	is "$rc" 0 "verify good.pem as $host.smilla.test: pass"
	like "$out" '^result: pass$' "  result line"
done
like "$out" 'record 3 0 0 .*: match' "  the matching record is named"

C verify --cert "$certs/ta.pem" --chain "$certs/chain.pem" --name ta.smilla.test
is "$rc" 0 "verify DANE-TA with chain: pass"
like "$out" 'chain verifies to trust anchor /CN=Smilla Test CA' "  trust anchor named"

C verify --cert "$certs/ta.pem" --name ta.smilla.test
is "$rc" 1 "verify DANE-TA without chain: no pass"
like "$out" 'no certificate of the chain is this trust anchor' "  says why"
like "$out" '^result: fail$' "  result fail"

C verify --cert "$certs/good.pem" --chain "$certs/chain.pem" --name ta.smilla.test
is "$rc" 1 "verify DANE-TA, certificate for another name: no pass"
like "$out" 'hostname mismatch' "  name check of usage 2"

C verify --cert "$certs/good.pem" --name bad.smilla.test
is "$rc" 1 "verify mismatching record: exit 1"
like "$out" 'does not match' "  says why"
like "$out" '^result: fail$' "  result fail"

C verify --cert "$certs/self.pem" --name self.smilla.test
is "$rc" 0 "verify self-signed certificate under DANE-EE: pass"

C verify --cert "$certs/good.pem" --name malformed.smilla.test
is "$rc" 1 "verify against malformed records: exit 1"
like "$out" '^result: unusable$' "  result unusable"

C verify --cert "$certs/good.pem" --name host.bogus.smilla.test
is "$rc" 2 "verify against bogus data: exit 2"
like "$out" '^result: none$' "  bogus data never matched"

C verify --cert "$certs/good.pem" --name host.insecure.smilla.test
is "$rc" 1 "verify against insecure data: exit 1"

C verify --cert "$certs/good.pem" --name good.smilla.test --json
m=$(printf '%s' "$out" | perl -MJSON::PP -e '
	my $j = decode_json(join "", <STDIN>); print "$j->{result} $j->{records}[0]{verdict}"')
is "$m" "pass match" "verify --json"

# ---- gen: what an admin pastes is what the zone serves ----
C gen tlsa --cert "$certs/good.pem" --name good.smilla.test
is "$out" "_smtp-client.good.smilla.test. IN TLSA 3 1 1 $GOOD_SPKI_SHA256" "gen tlsa 3 1 1"
C gen tlsa --cert "$certs/good.pem" --name cert.smilla.test --usage 3 --selector 0 --mtype 1
is "$out" "_smtp-client.cert.smilla.test. IN TLSA 3 0 1 $GOOD_CERT_SHA256" "gen tlsa 3 0 1"
C gen tlsa --cert "$certs/good.pem" --name x.smilla.test --mtype 7
is "$rc" 64 "gen tlsa with a bad matching type: usage error"

C gen smimea --cert "$certs/alice.pem" --email alice@smilla.test
gen=$(printf '%s' "$out" | awk '{print $4, $5, $6, $7}')
C lookup smimea alice@smilla.test
pub=$(printf '%s\n' "$out" | awk '/IN SMIMEA/ {print $5, $6, $7, $8}')
is "$gen" "$pub" "gen smimea equals the published record"

C gen openpgpkey --key "$BED_DIR/keys/bob-secret.pgp" --email bob@smilla.test
is "$rc" 0 "gen openpgpkey from a secret key file"
like "$out" "^$BOB_HASH\._openpgpkey\.smilla\.test\. IN OPENPGPKEY [A-Za-z0-9+/=]+\$" \
	"  owner and base64 data"
printf '%s' "$out" | awk '{print $4}' | base64 -d > "$BED_DIR/gen-bob.pgp"
fpr_gen=$(gpg --with-colons --show-keys "$BED_DIR/gen-bob.pgp" 2>/dev/null | awk -F: '/^fpr/ {print $10; exit}')
fpr_bed=$(gpg --with-colons --show-keys "$BED_DIR/keys/bob.pgp" 2>/dev/null | awk -F: '/^fpr/ {print $10; exit}')
check "  same key as bob's ($fpr_bed)" [ -n "$fpr_gen" -a "$fpr_gen" = "$fpr_bed" ]
packets=$(gpg --list-packets "$BED_DIR/gen-bob.pgp" 2>&1 || true)
like "$packets" 'public key packet' "  holds the public key"
unlike "$packets" 'secret (sub)?key packet' "  no secret key material published"
C gen openpgpkey --key "$BED_DIR/keys/bob.pgp" --email carol@smilla.test
is "$rc" 65 "gen openpgpkey for an address the key lacks: data error"
like "$out" 'no key with a user ID for carol@smilla.test' "  says why"

# ---- cache ----
C lookup tlsa good.smilla.test --cache
is "$rc" 0 "cached lookup, first: from DNS"
unlike "$out" 'from the cache' "  not from the cache"
C lookup tlsa good.smilla.test --cache
like "$out" 'from the cache, [0-9]+ seconds left' "second lookup from the cache"
like "$out" "TLSA 3 1 1 $GOOD_SPKI_SHA256" "  same record"
C lookup tlsa host.slow.smilla.test --cache
C cache show
like "$out" '^_smtp-client\.good\.smilla\.test TLSA secure' "cache show lists the entry"
unlike "$out" slow "  timeouts are not cached"
C cache flush _SMTP-CLIENT.nothere.smilla.test.
like "$out" '^flushed 0 entries$' "cache flush of another name"
C cache flush _SMTP-CLIENT.good.smilla.test.
like "$out" '^flushed 1 entries$' "cache flush NAME, any case, trailing dot"
C cache show
unlike "$out" 'good' "  entry gone"
C lookup tlsa '_smtp-client.bad name.smilla.test'
is "$rc" 65 "explicit owner name with a blank: data error"

# ---- bad input ----
C lookup tlsa 'bad_name.smilla.test'
is "$rc" 65 "invalid host name: data error"
long=$(printf 'a%.0s' $(seq 1 70))
C lookup tlsa "$long.smilla.test"
like "$out" 'label longer than 63 octets' "overlong label refused"
C lookup a good.smilla.test
is "$rc" 64 "unknown record type: usage error"
C frobnicate
is "$rc" 64 "unknown command: usage error"
printf 'dns_timeout = 3\nfrobnicate = yes\n' > "$BED_DIR/bad.conf"
run "$ctl" -c "$BED_DIR/bad.conf" config
is "$rc" 78 "bad config: exit 78"
like "$out" "$BED_DIR/bad.conf:2: unknown key \"frobnicate\"" "  file and line named"
run "$ctl" -c "$BED_DIR/missing.conf" config
is "$rc" 78 "missing config file: exit 78"
C verify --cert "$BED_DIR/nothere.pem" --name good.smilla.test
is "$rc" 66 "missing certificate file: exit 66"
C config
like "$out" "^unbound_conf = $BED_DIR/unbound.conf\$" "config prints the effective value"
like "$out" '^cache_max_ttl = 86400$' "  and defaults"

# ---- report: each row's key type, also from a store made before types ----
# The schema and rows of the code before key types (rep_events without
# key_type, rep_keys keyed by identity and fingerprint): report migrates
# it and shows the rows' types as derived from their source.
old="$BED_DIR/old-rep.db"
now=$(date +%s)
sqlite3 "$old" "
CREATE TABLE rep_events (id INTEGER PRIMARY KEY, time INTEGER NOT NULL,
 source TEXT, client_address TEXT, helo TEXT, identity TEXT NOT NULL,
 result TEXT NOT NULL, usage INTEGER, selector INTEGER, mtype INTEGER,
 cert_fp TEXT, key_fp TEXT, tls_protocol TEXT, tls_cipher TEXT,
 count INTEGER NOT NULL DEFAULT 1);
CREATE INDEX rep_events_identity ON rep_events (identity, time);
CREATE TABLE rep_identities (identity TEXT PRIMARY KEY, first_seen INTEGER,
 last_seen INTEGER, n_pass INTEGER DEFAULT 0, n_fail INTEGER DEFAULT 0,
 n_none INTEGER DEFAULT 0, n_nocert INTEGER DEFAULT 0,
 n_unusable INTEGER DEFAULT 0, n_bogus INTEGER DEFAULT 0,
 n_temperror INTEGER DEFAULT 0, last_key_fp TEXT,
 keys_seen INTEGER DEFAULT 0, key_changes INTEGER DEFAULT 0);
CREATE TABLE rep_keys (identity TEXT, key_fp TEXT, first_seen INTEGER,
 last_seen INTEGER, count INTEGER, PRIMARY KEY (identity, key_fp));
INSERT INTO rep_events (time, source, client_address, helo, identity, result,
 usage, selector, mtype, cert_fp, key_fp, tls_protocol, tls_cipher) VALUES
 ($now, 'policyd', '192.0.2.9', 'mx.old.smilla.test', 'mx.old.smilla.test',
  'pass', 3, 1, 1, 'CE:RT', 'AB:CD', 'TLSv1.3', 'X'),
 ($now, 'milter', '192.0.2.9', 'mx.old.smilla.test', 'bob@old.smilla.test',
  'pass', 3, 0, 0, 'EF01', 'EF01', '', ''),
 ($now, 'other', '192.0.2.9', '', 'x.old.smilla.test', 'none',
  NULL, NULL, NULL, '', '', '', '');
INSERT INTO rep_identities (identity, first_seen, last_seen, n_pass,
 last_key_fp, keys_seen, key_changes) VALUES
 ('mx.old.smilla.test', $now, $now, 1, 'AB:CD', 2, 1);
INSERT INTO rep_keys VALUES ('mx.old.smilla.test', 'AB:CD', $now, $now, 1),
 ('mx.old.smilla.test', '01:23', $now, $now, 1);
"
check "a store of the code before key types made" [ -s "$old" ]
{ cat "$conf"; echo "db_path = $old"; } > "$BED_DIR/old-rep.conf"
O() { run "$ctl" -c "$BED_DIR/old-rep.conf" "$@"; }
O report --identity mx.old.smilla.test
is "$rc" 0 "report --identity on the old store"
like "$out" '^  [-0-9T:Z]+ pass +record=3 1 1 client=\[192\.0\.2\.9\] helo=mx\.old\.smilla\.test tls=TLSv1\.3 key_type=tlsa key=AB:CD count=1$' \
	"  a policy daemon's old row: key_type=tlsa"
O report --identity bob@old.smilla.test
like "$out" ' key_type=smimea key=EF01 count=1$' "  a milter's old row: key_type=smimea"
O report --identity x.old.smilla.test
like "$out" ' key_type=- key=- count=1$' "  another source: key_type=-"
O report --identity mx.old.smilla.test --json
t=$(printf '%s' "$out" | perl -MJSON::PP -e '
	my $e = decode_json(join "", <STDIN>)->{events}[0];
	print join " ", $e->{key_type}, $e->{key_fp}, $e->{count}')
is "$t" "tlsa AB:CD 1" "  --json: key_type, key_fp, count"
O report --identity x.old.smilla.test --json
t=$(printf '%s' "$out" | perl -MJSON::PP -e '
	my $e = decode_json(join "", <STDIN>)->{events}[0];
	print exists $e->{key_type} && !defined $e->{key_type} ? "null" : "?"')
is "$t" null "  --json: an unknown key type is null"
O report
like "$out" '^mx\.old\.smilla\.test +[-0-9T:Z]+ +1 +0 +0 +0 +0 +0 +0 +2 +1$' \
	"  the old totals: two keys, one change"
is "$(sqlite3 "$old" "select group_concat(key_type, ' ') from (select key_type from rep_keys order by key_fp)")" \
	"tlsa tlsa" "  rep_keys now keyed by type"

done_testing
