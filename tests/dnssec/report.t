#!/bin/sh
# smillactl report against a store with known rows (written with the
# store's own code by tests/lib/repfill): the text sections and their
# numbers, the filters, the JSON shape; the HTML in a real headless
# Chromium (renders, no console errors, the charts' numbers are the
# store's, a screenshot); an attacker's identity escaped; an empty
# store; 100 000 rows within the issue's bound of 2 s.
set -eu
. "$(dirname "$0")/../lib/tap.sh"

ctl="$SMILLA_BUILD/smillactl"
fill="$SMILLA_BUILD/tests/lib/repfill"
work=$(mktemp -d "${BED_DIR:-/tmp}/report.XXXXXX")
trap 'rm -rf "$work"' EXIT
printf 'db_path = %s/known.db\n' "$work" > "$work/known.conf"
printf 'db_path = %s/empty.db\n' "$work" > "$work/empty.conf"
printf 'db_path = %s/big.db\n' "$work" > "$work/big.conf"
evil='<script>alert(1)</script>.evil'

# TIME SOURCE KEY_TYPE RESULT IDENTITY COUNT KEY CLIENT HELO, and
# deliveries: TIME SOURCE delivery RESULT IDENTITY COUNT ACTION[:FORMAT] DIRECTION
"$fill" "$work/known.db" <<EOF
-86400 policyd tlsa pass good.smilla.test 5 AAAA 192.0.2.10 good.smilla.test
-3600 policyd tlsa fail good.smilla.test 1 - 192.0.2.10 good.smilla.test
-3600 policyd tlsa bogus host.bogus.smilla.test 2 - 192.0.2.11 host.bogus.smilla.test
-7200 policyd tlsa pass $evil 1 BBBB 192.0.2.66 x
-60 policyd tlsa fail $evil 3 - 192.0.2.66 <b>x</b>
-100 milter smimea pass alice@smilla.test 3 CCCC
-100 milter openpgpkey none alice@smilla.test 3
-90 milter smimea none carol@other.test 2
-90 milter openpgpkey none carol@other.test 2
-50 milter smime-signer pass bob@smilla.test 1 DDDD
-40 milter smime-signer fail mallory@other.test 1
-30 milter smimea pass alice@smilla.test 1 EEEE
-100 milter delivery pass alice@smilla.test 3 encrypted:smime outbound
-30 milter delivery pass alice@smilla.test 1 encrypted:smime outbound
-90 milter delivery none carol@other.test 2 plaintext outbound
-95 milter delivery none carol@other.test 1 tempfail outbound
-20 milter delivery none dan@in.test 2 encrypted:openpgp inbound
-19 milter delivery none dan@in.test 1 untouched inbound
EOF
K() { conf=$1; shift; run "$ctl" -c "$work/$conf.conf" report "$@"; }

# ---- text ----
K known
is "$rc" 0 "report: exit 0"
like "$out" '^Sending MTAs \(DANE client authentication\)' "  MTA section"
like "$out" '^sending MTA +last seen +pass +fail +none +nocert +unusable +bogus +temperror +keys +changes$' \
	"  its header names the numbers"
like "$out" '^good\.smilla\.test +[0-9TZ:-]+ +5 +1 +0 +0 +0 +0 +0 +1 +0$' \
	"  good.smilla.test: 5 pass, 1 fail, one key"
like "$out" '^host\.bogus\.smilla\.test +[0-9TZ:-]+ +0 +0 +0 +0 +0 +2 +0 +0 +0$' "  bogus counted"
# The first column is as wide as the longest identity in it.
w=$(printf '%s\n' "$out" | awk '/^sending MTA/ { print index($0, "last seen") - 2; exit }')
is "$w" "${#evil}" "  identity column as wide as the longest identity (${#evil})"
like "$out" '^domain +direction +recipients +with keys +messages +encrypted +already encrypted +plain +refused +encrypted %$' \
	"  recipients by domain: header"
like "$out" '^smilla\.test +outbound +1 +1 +4 +4 +0 +0 +0 +100\.0$' \
	"  smilla.test: one recipient with keys, 4 messages delivered, all encrypted"
like "$out" '^other\.test +outbound +1 +0 +2 +0 +0 +2 +1 +0\.0$' \
	"  other.test: 2 messages plain, 1 deferred"
like "$out" '^in\.test +inbound +1 +0 +3 +2 +1 +0 +0 +100\.0$' \
	"  in.test (local): 2 encrypted, 1 already encrypted by the sender"
like "$out" '^alice@smilla\.test +[0-9TZ:-]+ +4 +0 +3 +0 +0 +0 +0 +2 +1$' \
	"  alice: lookups per result, two keys, one change"
like "$out" '^mallory@other\.test +[0-9TZ:-]+ +0 +1 ' "  senders: mallory's signature failed"
like "$out" '^bob@smilla\.test +[0-9TZ:-]+ +1 +0 ' "  senders: bob's passed"
like "$out" '^[0-9TZ:-]+ +alice@smilla\.test +smimea +EEEE$' "  key change of alice to EEEE"
unlike "$(printf '%s\n' "$out" | sed -n '/^Recipients/,/^Senders/p')" 'good\.smilla' \
	"  an MTA is not a recipient"

K known --domain other.test
like "$out" '^carol@other\.test ' "--domain: its recipient"
like "$out" '^mallory@other\.test ' "  its sender"
unlike "$out" 'smilla\.test' "  nothing of another domain"
K known --since 2h
like "$out" '^good\.smilla\.test +[0-9TZ:-]+ +0 +1 ' "--since 2h: the day-old passes left out"
K known --identity good.smilla.test
like "$out" '^good\.smilla\.test +[0-9TZ:-]+ +5 +1 ' "--identity: its line"
unlike "$out" 'alice|bogus\.smilla' "  no other identity"
like "$out" 'fail +record=- client=\[192\.0\.2\.10\]' "  and its decisions"
K known --limit 1
is "$(printf '%s\n' "$out" | sed -n '/^Sending MTAs/,/^$/p' | grep -c '^[^ ]*\.test \|^<script')" 1 \
	"--limit 1: one sending MTA"
like "$out" '^  \.\.\. 2 more \(--limit 1\)$' "  and how many more"
like "$out" '^[0-9TZ:-]+ +alice@smilla\.test +smimea +EEEE$' "  the latest key change kept"
K known --limit 1 --json
is "$(printf '%s' "$out" | perl -MJSON::PP -e '
	my $j = decode_json(join "", <STDIN>);
	print join " ", scalar @{$j->{"sending-mtas"}}, scalar @{$j->{"recipient-domains"}},
	    $j->{"list-counts"}{"sending-mtas"}, $j->{"list-counts"}{"recipient-domains"}')" "1 1 3 3" \
	"  --json: lists cut at 1, list-counts says 3 and 3"
K known --limit 0
is "$rc" 64 "--limit 0: a usage error"
K empty
is "$rc" 1 "empty store: exit 1"
is "$out" "no decisions recorded" "  says so"

# ---- JSON ----
K known --json
is "$rc" 0 "--json: exit 0"
got=$(printf '%s' "$out" | perl -MJSON::PP -e '
	my $j = decode_json(join "", <STDIN>);
	my %m = map { $_->{identity} => $_ } @{$j->{"sending-mtas"}};
	my $g = $m{"good.smilla.test"};
	my $b = $m{"host.bogus.smilla.test"};
	my ($d) = grep { $_->{domain} eq "smilla.test" } @{$j->{"recipient-domains"}};
	my ($o) = grep { $_->{domain} eq "other.test" } @{$j->{"recipient-domains"}};
	my ($i) = grep { $_->{domain} eq "in.test" } @{$j->{"recipient-domains"}};
	my $day = { "message-count" => 0, "encrypted-count" => 0 };
	for my $dd (@{$j->{days}}) { $day->{$_} += $dd->{$_} for keys %$day }
	my ($s) = grep { $_->{identity} eq "mallory\@other.test" } @{$j->{senders}};
	my $e = $m{"<script>alert(1)</script>.evil"};
	print join " ", $j->{"report-version"}, $j->{"decision-count"},
	    $g->{"policy-type"}, $g->{"successful-session-count"},
	    $g->{"failed-session-count"}, $g->{"failure-details"}[0]{"result-type"},
	    $g->{"failure-details"}[0]{"failed-session-count"},
	    $b->{"policy-type"}, $b->{"failure-details"}[0]{"result-type"},
	    $b->{"failed-session-count"},
	    $d->{"message-count"}, $d->{"encrypted-count"}, $d->{"plain-count"},
	    $o->{direction}, $o->{"refused-count"}, $i->{direction},
	    $i->{"already-encrypted-count"}, $day->{"message-count"},
	    $day->{"encrypted-count"},
	    $s->{"failed-session-count"}, $j->{"key-changes"}[0]{key},
	    $e->{"last-failure"}{"result-type"}, $e->{"last-failure"}{helo},
	    scalar @{$j->{identities}}')
is "$got" "1 25 tlsa 5 1 fail 1 tlsa bogus 2 4 4 0 outbound 1 inbound 1 6 4 1 EEEE fail <b>x</b> 7" \
	"  version, counts (deliveries are no decisions), policy-type, failure-details, domains and their mail, outbound per day, senders, key changes, the hostile HELO as sent, identities with decisions"

# ---- HTML ----
K known --html "$work/known.html"
is "$rc" 0 "--html: exit 0"
is "$out" "" "  nothing on stdout"
html=$(cat "$work/known.html")
like "$html" "Content-Security-Policy\" content=\"default-src 'none'" "  fetches nothing: CSP default-src 'none'"
unlike "$html" '<script|<link|<img|@import|url\(|(src|href)=' "  no script, link, image or URL"
like "$html" '&lt;script&gt;alert\(1\)&lt;/script&gt;\.evil' "  the hostile identity HTML-escaped"
like "$html" '&lt;b&gt;x&lt;/b&gt;' "  and its HELO"

if command -v chromium >/dev/null 2>&1; then
	# A profile of its own: other tests may run a browser too.
	B() { chromium --headless --disable-gpu --no-sandbox \
		--user-data-dir="$work/chrome" --enable-logging=stderr --v=0 "$@"; }
	set +e
	B --dump-dom "file://$work/known.html" > "$work/dom" 2> "$work/chrome.err"
	brc=$?
	set -e
	is "$brc" 0 "chromium renders the report"
	dom=$(cat "$work/dom")
	like "$dom" 'id="chart-mta"' "  the MTA chart is in the DOM"
	unlike "$dom" '<script' "  no script element: the identity stayed text"
	check "  no console message" sh -c "! grep -q CONSOLE '$work/chrome.err'"
	# The charts' numbers against the store.
	for r in pass fail bogus; do
		chart=$(printf '%s' "$dom" | perl -ne '
			$n += $1 while /data-result="'"$r"'" data-count="(\d+)"/g;
			END { print $n + 0 }')
		store=$(sqlite3 "$work/known.db" "select coalesce(sum(count), 0) from rep_events where key_type = 'tlsa' and result = '$r'")
		is "$chart" "$store" "  MTA chart: $r decisions as in the store ($store)"
	done
	share=$(printf '%s' "$dom" | perl -ne '
		while (/data-messages="(\d+)" data-encrypted="(\d+)" data-day/g) { $m += $1; $e += $2 }
		END { print "$m $e" }')
	is "$share" "6 4" "  share per day: 6 messages, 4 encrypted"
	like "$dom" 'data-messages="4" data-encrypted="4" data-domain="smilla.test"' \
		"  share per domain: smilla.test 4 of 4"
	like "$dom" 'data-messages="3" data-encrypted="3" data-domain="in.test"' \
		"  in.test 3 of 3 (one already encrypted by its sender)"
	like "$dom" '<td>in.test</td><td>inbound</td>' "  and marked inbound in the table"
	like "$dom" '<circle class="mark" [^>]*data-identity="alice@smilla.test"' \
		"  alice's key change on the timeline"
	like "$dom" 'data-identity="&lt;script&gt;alert\(1\)&lt;/script&gt;.evil" data-failures="3"' \
		"  top failing: the hostile identity, 3 failures"
	B --screenshot="$work/known.png" --window-size=1200,1800 \
		"file://$work/known.html" > /dev/null 2>&1 || true
	magic=$(od -An -c -N4 "$work/known.png" 2>/dev/null | tr -d ' ')
	is "$magic" '211PNG' "  a PNG screenshot ($(wc -c < "$work/known.png" 2>/dev/null || echo 0) octets)"

	K empty --html "$work/empty.html"
	B --dump-dom "file://$work/empty.html" > "$work/dom" 2> "$work/chrome.err" || true
	like "$(cat "$work/dom")" 'No decisions about sending MTAs' "empty store: the page says so"
	check "  no console message" sh -c "! grep -q CONSOLE '$work/chrome.err'"
else
	ok 1 "chromium installed (scripts/deps.sh)"
fi

# ---- 100 000 rows within 2 s ----
"$fill" "$work/big.db" synth 100000
is "$(sqlite3 "$work/big.db" 'select count(*) from rep_events')" 100000 "100 000 rows in the store"
is "$(sqlite3 "$work/big.db" "select count(*) from rep_events where key_type = 'delivery'")" 20000 "  20 000 of them deliveries"
t0=$(date +%s%N)
K big --html "$work/big.html"
t1=$(date +%s%N)
ms=$(( (t1 - t0) / 1000000 ))
diag "report --html of 100 000 rows: $ms ms, $(wc -c < "$work/big.html") octets"
check "  generated in under 2 s ($ms ms)" [ "$ms" -lt 2000 ]
like "$(cat "$work/big.html")" 'data-decisions="80000" data-deliveries="20000"' \
	"  every row counted: 80 000 decisions, 20 000 deliveries"
if command -v chromium >/dev/null 2>&1; then
	B --dump-dom "file://$work/big.html" > "$work/dom" 2> "$work/chrome.err" || true
	like "$(cat "$work/dom")" 'id="table-failing"' "  chromium renders it"
	check "  no console message" sh -c "! grep -q CONSOLE '$work/chrome.err'"
	# README's picture (docs/report.png) is made here, on request.
	if [ -n "${REPORT_SCREENSHOT:-}" ]; then
		B --screenshot="$work/big.png" --window-size=1000,2600 --hide-scrollbars \
			"file://$work/big.html" > /dev/null 2>&1 || true
		magic=$(od -An -c -N4 "$work/big.png" 2>/dev/null | tr -d ' ')
		is "$magic" '211PNG' "  a screenshot for README: $REPORT_SCREENSHOT"
		cp "$work/big.png" "$REPORT_SCREENSHOT"
	fi
fi
done_testing
