#!/bin/bash
# smilla (the milter) end to end, PGP/MIME: a real Postfix (throwaway
# instance, tests/e2e/postfix.sh) calls three smilla milters, swaks
# sends, the DNSSEC test bed publishes the OPENPGPKEY records (the
# recipients of tests/bed/bed.sh's header comment) and SMIMEA ones, and
# the delivered mail is decrypted with gpg, each recipient's secret key
# in a GNUPGHOME of its own.
#
#   milter A (default, clients from 127.0.0.1): encryption_formats as
#            by default (smime openpgp), nothing required
#   milter R (clients from 127.0.0.2): the unusable, bogus and insecure
#            OpenPGP recipients and alice (S/MIME only) required
#   milter P (clients from 127.0.0.3): encryption_formats = openpgp smime,
#            mixed_recipients = defer
# local_domains = mx.smilla.test for all three, so *@smilla.test is
# outbound and encrypted.  Each has its own cache and reputation database.
set -eu
export LC_ALL=C
. "$(dirname "$0")/../lib/tap.sh"
require_bed
. "$(dirname "$0")/../lib/mta.sh"
mta_setup pgp tmp g
pf="$work/pf"
# The recipients whose secret keys decrypt here, a GNUPGHOME each
# ($work/g/TAG: short, gpg-agent's socket lives in it); "maker" holds
# public keys only, for the already encrypted messages.
HOMES="bob rsa carol upper maker"
MILTERS="a r p"
declare -A mpid=()

. "$here/../lib/mail.sh"

cleanup() {
	"$PF_SH" stop "$pf" >/dev/null 2>&1 || true
	milters_kill
	agents_kill
}
trap cleanup EXIT

# ------------------------------------------------------------------ milters

: >"$work/a-require.tbl"
cat >"$work/r-require.tbl" <<'TBL'
# milter R: the unusable OpenPGP keys, the bogus and the insecure zone's
# OpenPGP recipient, and alice, who has an SMIMEA record only
expired@smilla.test
revoked@smilla.test
signonly@smilla.test
wronguid@smilla.test
pgp@bogus.smilla.test
pgp@insecure.smilla.test
alice@smilla.test
TBL
: >"$work/p-require.tbl"

milter_conf a "local_domains = mx.smilla.test"
milter_conf r "local_domains = mx.smilla.test"
milter_conf p "local_domains = mx.smilla.test" "encryption_formats = openpgp smime" \
	"mixed_recipients = defer"
milters_start || { done_testing; exit 1; }

# ------------------------------------------------------------------ Postfix

export PF_EXTRA_DOMAINS="smilla.test bogus.smilla.test insecure.smilla.test"
postfix_start || { done_testing; exit 1; }

# ------------------------------------------------------------------ gpg

for h in $HOMES; do
	mkdir -m 700 "$work/g/$h"
	if [ "$h" = maker ]; then
		gpg_in maker --import "$keys/bob.pgp" >"$work/g/$h.log" 2>&1 && rc=0 || rc=$?
	else
		gpg_in "$h" --import "$keys/$h-secret.pgp" >"$work/g/$h.log" 2>&1 && rc=0 || rc=$?
	fi
	is "$rc" 0 "gpg home $h: key imported"
	[ "$rc" -eq 0 ] || sed 's/^/#   /' "$work/g/$h.log"
done

# ------------------------------------------------------------------ helpers

total=0 # messages expected in the Maildir

# pkesks FILE: the number of public-key encrypted session key packets.
pkesks() {
	gpg_in maker --list-packets "$1" 2>/dev/null | grep -c '^:pubkey enc packet:' || true
}

# ------------------------------------------------------------------ 1. one key, two kinds

msg bob bob@smilla.test <<'EOF'
MIME-Version: 1.0
X-Smilla: encrypted pgp; forged by the sender
Content-Type: text/plain;
	charset="utf-8";
	format=flowed
Content-Transfer-Encoding: 7bit

Hello Bob,

this travels as PGP/MIME.  Trailing blanks stay:   
	a tab-indented line
-- 
sender
EOF
entity bob
deliver bob bob@smilla.test 1 "bob (cv25519)"
check "  delivered" [ -s "$m" ]
pgp_ok "$m" 1
check "  From, To, Subject, Date, Message-ID kept" headers_kept "$m" bob
check "  gpg --decrypt (bob's key) gives the MIME entity byte-exact" gpg_decrypts_to "$m" bob bob
is "$(pkesks "$m")" 1 "  one PKESK"
log_is a bob ' rcpts=bob@smilla\.test:secure action=encrypted size=[0-9]+ ms=[0-9]+'
cp "$m" "$work/msg/bob.delivered"

msg rsa rsa@smilla.test <<'EOF'
MIME-Version: 1.0
Content-Type: text/plain; charset=us-ascii

To an RSA-3072 primary key that encrypts itself (no subkey).
EOF
entity rsa
deliver rsa rsa@smilla.test 1 "rsa (RSA-3072)"
pgp_ok "$m" 1
check "  gpg --decrypt (the RSA key) byte-exact" gpg_decrypts_to "$m" rsa rsa
log_is a rsa ' rcpts=rsa@smilla\.test:secure action=encrypted '

msg two "bob@smilla.test, rsa@smilla.test" <<'EOF'
MIME-Version: 1.0
Content-Type: text/plain; charset=us-ascii

One message, two recipients, each with his own key.
EOF
entity two
deliver two bob@smilla.test,rsa@smilla.test 2 "bob + rsa"
is "$(printf '%s\n' "$ms" | grep -c .)" 2 "  two copies delivered"
pgp_ok "$m" 2
check "  bob decrypts it" gpg_decrypts_to "$m" bob two
check "  rsa decrypts it" gpg_decrypts_to "$m2" rsa two
check "  the two copies carry the same encryption" \
	eval '[ -s "$m" ] && [ -s "$m2" ] && cmp -s <(body "$m") <(body "$m2")'
is "$(pkesks "$m")" 2 "  two PKESKs, one a key"
log_is a two ' rcpts=bob@smilla\.test:secure,rsa@smilla\.test:secure action=encrypted '

# ------------------------------------------------------------------ 2. 8-bit, multipart, 20 MB

eightbit_msg | msg eightbit bob@smilla.test
entity eightbit
deliver eightbit bob@smilla.test 1 "8-bit body"
pgp_ok "$m" 1
check "  decrypts byte-exact (8-bit octets, dot lines, an armor line, 900 octets)" \
	gpg_decrypts_to "$m" bob eightbit

multipart_msg | msg multipart "bob@smilla.test, rsa@smilla.test"
entity multipart
deliver multipart bob@smilla.test,rsa@smilla.test 2 "nested multipart, two attachments (300 KB base64)"
pgp_ok "$m" 2
check "  bob decrypts it byte-exact" gpg_decrypts_to "$m" bob multipart
check "  rsa decrypts it byte-exact" gpg_decrypts_to "$m2" rsa multipart
check "  the attachment decodes to the original octets" \
	attachment_ok "$work/out/multipart.bob.dec"

big_t0=$EPOCHREALTIME
big_msg | msg big bob@smilla.test
entity big
deliver big bob@smilla.test 1 "$(($(stat -c %s "$work/msg/big.eml") / 1000000)) MB message"
pgp_ok "$m" 1
check "  decrypts byte-exact" gpg_decrypts_to "$m" bob big
log_is a big ' rcpts=bob@smilla\.test:secure action=encrypted size=2[0-9]{7} '
echo "# 20 MB case: $(awk -v a="$big_t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }') s"
rm -f "$work/msg/big."* "$work/out/big."*

# ------------------------------------------------------------------ 3. unusable, bogus, insecure

plain() { # NAME ADDRESS: a small message that must pass as plaintext
	msg "$1" "$2" <<'EOF'
MIME-Version: 1.0
Content-Type: text/plain; charset=us-ascii

Published, but not to be encrypted to.
EOF
}
for r in expired:expired revoked:revoked signonly:"no encryption key" \
	wronguid:"user ID does not match"; do
	tag=${r%%:*}
	word=${r#*:}
	addr=$tag@smilla.test
	plain "$tag" "$addr"
	deliver "$tag" "$addr" 1 "$addr (OpenPGP key: $word)"
	plaintext_ok "$m" "$tag" no-key 1 0
	log_is a "$tag" " rcpts=$tag@smilla\\.test:unusable action=plaintext reason=\"?no-key\"? "
	like "$(grep -F "queue_id=$qid rcpt=<$addr> " "$work/a.log" || true)" \
		"state=unusable reason=\"smimea: nxdomain; openpgpkey: $word \\($(cat "$keys/$tag.fpr"): .*\"\$" \
		"  its reason, \"$word\", in milter A's log (notice)"
done

for r in pgp@bogus.smilla.test:bogus pgp@insecure.smilla.test:insecure; do
	addr=${r%:*}
	state=${r##*:}
	n=pgp-$state
	plain "$n" "$addr"
	deliver "$n" "$addr" 1 "$addr ($state)"
	plaintext_ok "$m" "$n" no-key 1 0
	log_is a "$n" " rcpts=${addr//./\\.}:$state action=plaintext reason=\"?no-key\"? "
	l=$(grep -F "queue_id=$qid rcpt=<" "$work/a.log" || true)
	if [ "$state" = bogus ]; then
		like "$l" 'state=bogus reason=".*; openpgpkey: validation failure <[^>]*>: signature expired ' \
			"  why, in milter A's log (notice)"
	else
		is "$l" "" "  no recipient line in milter A's log: no key, nothing to explain"
	fi
done

msg req "whoever" <<'EOF'
Content-Type: text/plain

Must not be delivered.
EOF
rej() { # ADDRESS CODE WHY-PATTERN: refused by milter R at RCPT
	local a=$1 c=$2
	send req "$a" --local-interface 127.0.0.2
	like "$out" "<(\*\*|~\*) +${c//./\\.} .*encryption required for <${a//./\\.}>" \
		"required $a: $c at RCPT"
	is "$qid" "" "  nothing queued"
	like "$(grep -F "rcpt=<$a> " "$work/r.log" || true)" "$3 refused=\"$c " \
		"  milter R's log: /$3/"
}
rej expired@smilla.test "550 5.7.1" 'state=unusable reason=".*openpgpkey: expired[ (].*"'
rej revoked@smilla.test "550 5.7.1" 'state=unusable reason=".*openpgpkey: revoked[ (].*"'
rej signonly@smilla.test "550 5.7.1" 'state=unusable reason=".*openpgpkey: no encryption key[ (].*"'
rej wronguid@smilla.test "550 5.7.1" 'state=unusable reason=".*openpgpkey: user ID does not match[ (].*"'
rej pgp@bogus.smilla.test "450 4.7.5" 'state=bogus reason=".*openpgpkey: [^;]*"'
rej pgp@insecure.smilla.test "550 5.7.1" 'state=insecure reason=".*openpgpkey: [^;]*"'

# ------------------------------------------------------------------ 4. preference and mixed

msg carol carol@smilla.test <<'EOF'
MIME-Version: 1.0
Content-Type: text/plain; charset=us-ascii

Carol publishes both kinds of key.
EOF
entity carol
deliver carol carol@smilla.test 1 "carol (SMIMEA and OPENPGPKEY), smime openpgp"
encrypted_ok "$m" 1 aes256-cbc
check "  S/MIME: openssl cms -decrypt (carol.key) byte-exact" decrypts_to "$m" carol carol
log_is a carol ' rcpts=carol@smilla\.test:secure action=encrypted '

sed 's/^Subject: milter-carol/Subject: milter-carol-p/' "$work/msg/carol.eml" >"$work/msg/carol-p.eml"
wire carol-p
entity carol-p
deliver carol-p carol@smilla.test 1 "carol with encryption_formats = openpgp smime (milter P)" --local-interface 127.0.0.3
pgp_ok "$m" 1
check "  PGP/MIME: gpg --decrypt (carol's key) byte-exact" gpg_decrypts_to "$m" carol carol-p
log_is p carol-p ' rcpts=carol@smilla\.test:secure action=encrypted '

msg carol-bob "carol@smilla.test, bob@smilla.test" <<'EOF'
MIME-Version: 1.0
Content-Type: text/plain; charset=us-ascii

Carol has both kinds, Bob OpenPGP only: PGP/MIME for both.
EOF
entity carol-bob
deliver carol-bob carol@smilla.test,bob@smilla.test 2 "carol + bob"
pgp_ok "$m" 2
check "  carol decrypts it" gpg_decrypts_to "$m" carol carol-bob
check "  bob decrypts it" gpg_decrypts_to "$m2" bob carol-bob
log_is a carol-bob ' rcpts=carol@smilla\.test:secure,bob@smilla\.test:secure action=encrypted '

msg alice-bob "alice@smilla.test, bob@smilla.test" <<'EOF'
MIME-Version: 1.0
Content-Type: text/plain; charset=us-ascii

Alice has S/MIME only, Bob OpenPGP only: no format covers both.
EOF
deliver alice-bob alice@smilla.test,bob@smilla.test 2 "alice (S/MIME only) + bob (OpenPGP only)"
plaintext_ok "$m" alice-bob no-key 2 2
log_is a alice-bob ' rcpts=alice@smilla\.test:secure,bob@smilla\.test:secure action=plaintext reason="?no-key"? '

msg sep "alice@smilla.test, bob@smilla.test" <<'EOF'
MIME-Version: 1.0
Content-Type: text/plain; charset=us-ascii

Alice requires encryption: Bob must be sent this on his own.
EOF
entity sep
send sep alice@smilla.test,bob@smilla.test --local-interface 127.0.0.2
like "$out" '<(\*\*|~\*) +452 4\.5\.3 .*bob@smilla\.test' \
	"required alice + bob (milter R): bob gets 452 4.5.3 (deliver separately)"
like "$out" '<~  250 2\.0\.0 Ok: queued as' "  the message is accepted for alice"
total=$((total + 1))
m=$(delivered sep 1) || true
encrypted_ok "$m" 1 aes256-cbc
check "  alice decrypts it (S/MIME)" decrypts_to "$m" alice sep
log_is r sep ' rcpts=alice@smilla\.test:secure,bob@smilla\.test:secure\(refused\) action=encrypted '

sed 's/^Subject: milter-sep/Subject: milter-sep2/' "$work/msg/sep.eml" >"$work/msg/sep2.eml"
wire sep2
entity sep2
send sep2 bob@smilla.test,alice@smilla.test --local-interface 127.0.0.2
like "$out" '<(\*\*|~\*) +452 4\.5\.3 .*alice@smilla\.test' \
	"bob + required alice (milter R): alice gets 452 4.5.3"
total=$((total + 1))
m=$(delivered sep2 1) || true
pgp_ok "$m" 1
check "  bob decrypts it (PGP/MIME)" gpg_decrypts_to "$m" bob sep2

# ------------------------------------------------------------------ 5. Upper@

msg upper Upper@smilla.test <<'EOF'
MIME-Version: 1.0
Content-Type: text/plain; charset=us-ascii

Published under the hash of "upper" only.
EOF
entity upper
deliver upper Upper@smilla.test 1 "Upper@smilla.test (key under the lowercased name)"
pgp_ok "$m" 1
check "  gpg --decrypt (upper's key) byte-exact" gpg_decrypts_to "$m" upper upper
log_is a upper ' rcpts=Upper@smilla\.test:secure action=encrypted '

# ------------------------------------------------------------------ 6. already encrypted

printf 'Content-Type: text/plain\r\n\r\nsecret\r\n' >"$work/msg/inner.txt"
gpg_in maker --trust-model always --recipient-file "$keys/bob.pgp" --armor \
	--output - --encrypt "$work/msg/inner.txt" >"$work/msg/inner.asc" 2>"$work/msg/inner.err" || true
check "gpg made a PGP message for bob" grep -q -- '-----BEGIN PGP MESSAGE-----' "$work/msg/inner.asc"
{
	cat <<'EOF'
MIME-Version: 1.0
X-Smilla: encrypted pgp; recipients=1; forged
Content-Type: multipart/encrypted; protocol="application/pgp-encrypted";
	boundary="=-gpg-boundary"

--=-gpg-boundary
Content-Type: application/pgp-encrypted

Version: 1

--=-gpg-boundary
Content-Type: application/octet-stream

EOF
	cat "$work/msg/inner.asc"
	printf '\n--=-gpg-boundary--\n'
} | msg pre-pgpmime bob@smilla.test
deliver pre-pgpmime bob@smilla.test 1 "PGP/MIME made with gpg, to bob"
check "  body unchanged" unchanged "$m" pre-pgpmime
untouched_ok "$m" pgp-mime
log_is a pre-pgpmime ' rcpts=bob@smilla\.test:secure action=untouched reason="already-encrypted" '
gpg_decrypt "$m" bob "$work/out/pre-pgpmime.dec" || true
check "  bob decrypts what gpg made" same_file "$work/out/pre-pgpmime.dec" "$work/msg/inner.txt"

{
	printf 'Content-Type: text/plain; charset=us-ascii\n\n'
	cat "$work/msg/inner.asc"
} | msg pre-inline bob@smilla.test
deliver pre-inline bob@smilla.test 1 "inline PGP (gpg --armor --encrypt, text/plain), to bob"
check "  body unchanged" unchanged "$m" pre-inline
untouched_ok "$m" pgp-inline
log_is a pre-inline ' action=untouched reason="already-encrypted" '

# What milter A made for bob (1.), as delivered, through it again.
perl -pe 's/\r?\n\z/\r\n/; s/^Subject: milter-bob\r$/Subject: milter-again\r/' \
	"$work/msg/bob.delivered" >"$work/msg/again.eml"
wire again
deliver again bob@smilla.test 1 "smilla's own PGP/MIME, sent through it again"
check "  body unchanged" unchanged "$m" again
untouched_ok "$m" pgp-mime
check "  still decrypts to the first entity" gpg_decrypts_to "$m" bob bob
log_is a again ' action=untouched reason="already-encrypted" '

# ------------------------------------------------------------------ mixed_recipients = defer (milter P)

# The first recipient sets the class; one of another class gets 452
# 4.5.3 and the client sends it the message in a transaction of its
# own (here: swaks again), where it gets its own format.
msg defer-ab "alice@smilla.test, bob@smilla.test" <<'EOF'
MIME-Version: 1.0
Content-Type: text/plain; charset=us-ascii

Alice has S/MIME only, Bob OpenPGP only: two transactions.
EOF
entity defer-ab
send defer-ab alice@smilla.test,bob@smilla.test --local-interface 127.0.0.3
like "$out" '<(\*\*|~\*) +452 4\.5\.3 <bob@smilla\.test>: deliver separately: its keys are in another format than the message.s' \
	"defer (milter P): alice (S/MIME) first, bob (OpenPGP only) gets 452 4.5.3 at RCPT"
like "$out" '<~  250 2\.0\.0 Ok: queued as ' "  the message is accepted for alice"
total=$((total + 1))
m=$(delivered defer-ab 1) || true
encrypted_ok "$m" 1 aes256-cbc
check "  alice's copy: S/MIME, openssl cms -decrypt byte-exact" decrypts_to "$m" alice defer-ab
log_is p defer-ab ' rcpts=alice@smilla\.test:secure,bob@smilla\.test:secure\(refused\) action=encrypted '
like "$(grep -F ' rcpt=<bob@smilla.test> ' "$work/p.log" | tail -n1)" ' refused="452 4\.5\.3 ' \
	"  log: bob refused with 452 4.5.3"

sed 's/^Subject: milter-defer-ab/Subject: milter-defer-b/' "$work/msg/defer-ab.eml" >"$work/msg/defer-b.eml"
wire defer-b
entity defer-b
deliver defer-b bob@smilla.test 1 "  the client's retry for bob alone (milter P)" --local-interface 127.0.0.3
pgp_ok "$m" 1
check "  bob's copy: PGP/MIME, gpg --decrypt byte-exact" gpg_decrypts_to "$m" bob defer-b

msg defer-na "nobody@smilla.test, bob@smilla.test, carol@smilla.test" <<'EOF'
MIME-Version: 1.0
Content-Type: text/plain; charset=us-ascii

Nobody has no key: the message is plaintext, the others wait.
EOF
send defer-na nobody@smilla.test,bob@smilla.test,carol@smilla.test --local-interface 127.0.0.3
like "$out" '<(\*\*|~\*) +452 4\.5\.3 <bob@smilla\.test>: deliver separately: it can get encrypted mail, the message is plaintext' \
	"defer: keyless nobody first: bob gets 452 4.5.3"
like "$out" '<(\*\*|~\*) +452 4\.5\.3 <carol@smilla\.test>: deliver separately' "  and carol"
total=$((total + 1))
m=$(delivered defer-na 1) || true
plaintext_ok "$m" defer-na no-key 1 0
sed 's/^Subject: milter-defer-na/Subject: milter-defer-bc/' "$work/msg/defer-na.eml" >"$work/msg/defer-bc.eml"
wire defer-bc
entity defer-bc
deliver defer-bc bob@smilla.test,carol@smilla.test 2 "  the retry for bob and carol (milter P)" --local-interface 127.0.0.3
pgp_ok "$m" 2
check "  bob decrypts it" gpg_decrypts_to "$m" bob defer-bc
check "  carol decrypts it" gpg_decrypts_to "$m2" carol defer-bc

# ------------------------------------------------------------------ the end

mta_end "$total"

# Reputation rows (written at the latest when the milter stops).
rows() { # DB IDENTITY: "key_type result key_fp" of its rows, sorted, unique
	sqlite3 -separator ' ' "$1" "SELECT DISTINCT key_type, result, ifnull(key_fp, '')
		FROM rep_events WHERE source = 'milter' AND identity = '$2'
		AND key_type != 'delivery' ORDER BY 1, 2, 3"
}
is "$(rows "$work/a.db" bob@smilla.test)" "openpgpkey pass $(cat "$keys/bob.fpr")
smimea none " "reputation: bob's rows, openpgpkey pass with bob's fingerprint, smimea none"
cert_fp() { openssl x509 -in "$certs/$1.pem" -outform DER | openssl dgst -sha256 -r | cut -d' ' -f1; }
is "$(rows "$work/a.db" alice@smilla.test)" "openpgpkey none 
smimea pass $(cert_fp alice)" "  alice's: smimea pass with her certificate's SHA-256, openpgpkey none"
is "$(rows "$work/a.db" carol@smilla.test)" "openpgpkey pass $(cat "$keys/carol.fpr")
smimea pass $(cert_fp carol)" "  carol's: a pass of each kind, each with its own fingerprint"
is "$(rows "$work/a.db" Upper@smilla.test)" "openpgpkey pass $(cat "$keys/upper.fpr")
smimea none " "  Upper@'s: the key found under the lowercased name"
is "$(rows "$work/a.db" expired@smilla.test | cut -d' ' -f1,2)" "openpgpkey unusable
smimea none" "  expired's: openpgpkey unusable"
is "$(rows "$work/a.db" pgp@bogus.smilla.test | cut -d' ' -f1,2)" "openpgpkey bogus
smimea bogus" "  pgp@bogus's: bogus, both kinds"
is "$(rows "$work/r.db" revoked@smilla.test | cut -d' ' -f1,2)" "openpgpkey unusable
smimea none" "  a refused recipient's too (milter R): revoked's, openpgpkey unusable"

# Delivery rows: what the milter did for each recipient of each message,
# as many as its log lines say (the end-of-message lines' accepted
# recipients by action, and the recipients refused at RCPT).
for m in a r; do
	logged=$(perl -ne '
		if (/ rcpts=(\S+) action=(\w+)/) {
			my ($l, $a) = ($1, $2);
			$n{$a} += 1 + $1 while $l =~ s/,\+(\d+) more$//;
			$n{$a} += grep { !/\(refused\)$/ } split /,/, $l;
		}
		$n{/refused="5/ ? "rejected" : "tempfail"}++ if / rcpt=<[^>]*> .* refused="/;
		END { print map { "$_ $n{$_}\n" } sort keys %n }' "$work/$m.log")
	stored=$(sqlite3 -separator ' ' "$work/$m.db" "SELECT action, sum(count) FROM rep_events
		WHERE key_type = 'delivery' GROUP BY 1 ORDER BY 1")
	is "$stored" "$logged" "delivery rows of milter $(echo "$m" | tr a-z A-Z): as many per action as its log says ($(echo $stored))"
done
fmt() { sqlite3 "$work/a.db" "SELECT group_concat(DISTINCT ifnull(format, '-') || ' ' || direction)
	FROM rep_events WHERE key_type = 'delivery' AND identity = '$1' AND action = '$2'"; }
is "$(fmt bob@smilla.test encrypted)" "openpgp outbound" "  bob's encrypted mail: PGP/MIME, outbound"
is "$(fmt alice@smilla.test plaintext)" "- outbound" "  alice's (S/MIME only), beside bob: plaintext, mixed"
is "$(fmt carol@smilla.test encrypted | tr , '\n' | sort | paste -sd ' ')" "openpgp outbound smime outbound" \
	"  carol's (both kinds): S/MIME alone, PGP/MIME beside bob"
is "$(fmt expired@smilla.test plaintext)" "- outbound" "  expired's: plaintext, no format"

agents_kill
nothing_left "milters, Postfix, gpg-agents"
echo "# pgp.t: $(awk -v a="$t_start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }') s"
trap - EXIT
done_testing
