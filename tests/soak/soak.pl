#!/usr/bin/perl
# tests/soak/soak.pl - the plan and the tally of the soak test
# (tests/soak/soak.sh).
#
#   soak.pl plan N SEED MSGDIR PLAN EXPECT DECISIONS
#       N messages for bench/soak-client (its plan format) in PLAN, and
#       in EXPECT what each accepted recipient must find in the Maildir:
#       "ID RCPT KIND DANE TEMPLATE" (KIND below, DANE the
#       DANE-Client-Auth result word or "-" for none, "?" either).
#       Connections of 1..20 messages (1..2 for bad); the client of each, the kind of
#       each message and its recipients are drawn with SEED (srand), so
#       a run can be repeated.  The templates are MSGDIR/NAME.eml.
#       DECISIONS: the reputation rows the run must leave, summed:
#       "source|identity|result|key_type|decisions", sorted, as sqlite3
#       prints them.
#   soak.pl tally EXPECT RESULTS MAILDIR MSGDIR SAMPLE
#       every expected delivery in MAILDIR (new/ and cur/) once, in the
#       form its KIND says, nothing else there; the client's RESULTS
#       all "ok".  Prints the counts and the first problems; exit 1 on
#       any.  Writes SAMPLE: "FILE RCPT TEMPLATE KIND" of up to 20
#       encrypted deliveries of each format (for decryption by openssl
#       and gpg).
#
# Clients (the test bed's names and certificates):
#   good    HELO good.smilla.test, certs/good (its _smtp-client TLSA
#           matches): pass, DANE-Client-Auth: pass
#   fail    HELO self.smilla.test, certs/other (self-signed; the TLSA is
#           of another key): fail, not required, DANE-Client-Auth: fail
#   bad     HELO bad.smilla.test, certs/good (TLSA of another key), in
#           require_table: every RCPT 554
#   nocert  HELO good.smilla.test, STARTTLS without a certificate: no header
# Kinds of delivery:
#   smime   X-Smilla: encrypted smime; the body a CMS EnvelopedData
#   pgp     X-Smilla: encrypted pgp; PGP/MIME, armor with a good CRC-24,
#           first packet a PKESK
#   plain   X-Smilla: plaintext; reason=no-key; the body as sent
#   vsmime, vpgp  inbound signed mail: X-Smilla: plaintext;
#           reason=disabled, the body as sent, Authentication-Results
#           smime=pass / x-pgp=pass
use strict;
use warnings;
use MIME::Base64 ();

my %client = (
	good => ["good.smilla.test", "good", "pass"],
	fail => ["self.smilla.test", "other", "fail"],
	bad => ["bad.smilla.test", "good", "-"],
	nocert => ["good.smilla.test", "-", "-"],
);
my @clients = ((qw(good) x 5), (qw(nocert) x 2), (qw(fail) x 2), "bad");
my @smime = ("alice", map { sprintf "rcpt%02d", $_ } 1 .. 10);
my @pgp = ("bob", "rsa", map { sprintf "pgp%02d", $_ } 1 .. 10);
my @nokey = ("nobody", map { sprintf "nokey%02d", $_ } 1 .. 20);
sub pick { $_[int rand @_] }
sub at { "$_[0]\@smilla.test" }

# A message of each kind: [template, [rcpt, delivery kind or "refused"]...].
my @kinds = (
	[3, sub { ["txt", [at(pick @smime), "smime"]] }],
	[3, sub { ["txt", [at(pick @pgp), "pgp"]] }],
	[2, sub { [pick("txt", "8bit"), [at(pick @nokey), "plain"]] }],
	# Required (require_encryption_table): carol has keys, must none.
	[1, sub { ["txt", ["carol\@smilla.test", "smime"], ["must\@smilla.test", "refused"]] }],
	[1, sub { ["8bit", ["carol\@smilla.test", "smime"]] }],
	# Mixed, split into a group per format.
	[3, sub { [pick("txt", "8bit"), [at(pick @smime), "smime"], [at(pick @pgp), "pgp"],
		   [at(pick @nokey), "plain"]] }],
	[1, sub { ["txt", [at(pick @smime), "smime"], [at(pick @nokey), "plain"],
		   ["must\@smilla.test", "refused"]] }],
	[2, sub { ["ssig", ["user\@mx.smilla.test", "vsmime"]] }],
	[2, sub { ["psig", ["user\@mx.smilla.test", "vpgp"]] }],
);
my @bag = map { ($_->[1]) x $_->[0] } @kinds;

# The reputation rows a message makes, into %$d ("source identity
# result key_type" => decisions): the policy daemon's for each RCPT and
# for DATA, of the client's identity, and for each copy that split
# submits (from the milter-free listener, whose client shows no
# certificate and says EHLO mx.smilla.test); the milter's for each RCPT
# to an outbound recipient, one per kind of key, and one per signed
# message.
my %policyd = (good => "good.smilla.test pass", fail => "self.smilla.test fail",
	       bad => "bad.smilla.test fail", nocert => "good.smilla.test nocert");
my %keys = (smime => [qw(pass none)], pgp => [qw(none pass)], plain => [qw(none none)],
	    refused => [qw(none none)]);
sub decisions {
	my ($d, $c, $t, @r) = @_;
	$d->{"policyd $policyd{$c} tlsa"} += @r;
	return if $c eq "bad";
	$d->{"policyd $policyd{$c} tlsa"}++;	# DATA
	my %group;
	for (@r) {
		my ($addr, $kind) = @$_;
		$group{$kind eq "refused" ? "" : $kind}++;
		next unless $keys{$kind};
		$kind = "smime" if $addr eq "carol\@smilla.test" && $kind ne "refused";
		my ($s, $p) = @{$keys{$kind}};
		$p = "pass" if $addr eq "carol\@smilla.test";
		$d->{"milter $addr $s smimea"}++;
		$d->{"milter $addr $p openpgpkey"}++;
	}
	delete $group{""};
	my $first = (grep { $group{$_} } qw(smime pgp plain vsmime vpgp))[0] // "";
	for (grep { $_ ne $first } keys %group) {
		$d->{"policyd mx.smilla.test nocert tlsa"} += $group{$_} + 1;
	}
	$d->{"milter frank\@smilla.test pass smime-signer"}++ if $t eq "ssig";
	$d->{"milter bob\@smilla.test pass pgp-signer"}++ if $t eq "psig";
}

sub plan {
	my ($n, $seed, $dir, $planf, $expf, $decf) = @_;
	my %d;
	srand $seed;
	open my $p, ">", $planf or die "$planf: $!";
	open my $e, ">", $expf or die "$expf: $!";
	my $id = 0;
	while ($id < $n) {
		my $c = pick @clients;
		my ($helo, $cert, $dane) = @{$client{$c}};
		print $p "C $helo $cert\n";
		# A refused client gives up soon (and Postfix slows down
		# one past smtpd_soft_error_limit, 10 refusals).
		for (1 .. 1 + int rand($c eq "bad" ? 2 : 20)) {
			last if $id >= $n;
			my $mid = sprintf "soak%06d", ++$id;
			my ($t, @r) = @{(pick @bag)->()};
			my (@w, $acc);
			for my $r (@r) {
				my ($addr, $kind) = @$r;
				my $code = $c eq "bad" ? 554 : $kind eq "refused" ? 550 : 250;
				push @w, $addr, $code;
				next if $code != 250;
				$acc++;
				# Split copies are submitted anew by the milter:
				# whether they carry the original's header is
				# not what this test is about.
				my $d = @r > 1 && $r ne $r[0] ? "?" : $dane;
				print $e "$mid $addr $kind $d $t\n";
			}
			print $p "M $mid $dir/$t.eml ", $acc ? 250 : "-", " @w\n";
			decisions(\%d, $c, $t, @r);
		}
	}
	close $p or die;
	close $e or die;
	open my $f, ">", $decf or die "$decf: $!";
	print $f join("|", @$_), "\n" for sort {
		$a->[0] cmp $b->[0] || $a->[1] cmp $b->[1] || $a->[2] cmp $b->[2] || $a->[3] cmp $b->[3]
	} map { [split(/ /), $d{$_}] } keys %d;
	close $f or die;
}

# ---------------------------------------------------------------- tally

sub header_of {
	my ($text) = @_;
	my ($h) = $text =~ /\A(.*?)\n\n/s or return {};
	$h =~ s/\n[ \t]+/ /g;
	my %h;
	for (split /\n/, $h) {
		my ($k, $v) = /^([^:]+):\s*(.*)$/ or next;
		push @{$h{lc $k}}, $v;
	}
	return \%h;
}
sub body_of { my ($t) = @_; $t =~ /\A.*?\n\n(.*)\z/s ? $1 : "" }

sub crc24 {
	my $crc = 0xB704CE;
	for my $c (unpack "C*", $_[0]) {
		$crc ^= $c << 16;
		for (1 .. 8) {
			$crc <<= 1;
			$crc ^= 0x1864CFB if $crc & 0x1000000;
		}
	}
	return $crc & 0xFFFFFF;
}

# What is wrong with delivery TEXT of kind KIND, template body SENT; "".
sub wrong {
	my ($text, $kind, $sent, $want_dane) = @_;
	my $h = header_of($text);
	my $x = join "|", @{$h->{"x-smilla"} // []};
	my $dane = join "|", map { /^(\S+)/ } @{$h->{"dane-client-auth"} // []};
	$dane = "-" if $dane eq "";
	return "DANE-Client-Auth '$dane', want $want_dane"
		if $want_dane ne "?" && $dane ne $want_dane;
	my $b = body_of($text);
	if ($kind eq "smime") {
		return "X-Smilla '$x'" unless $x =~ /^encrypted smime; recipients=\d+; cipher=aes256-cbc;/;
		my $der = MIME::Base64::decode_base64($b);
		return "not a CMS EnvelopedData"
			unless $der =~ /\A\x30(?:\x80|[\x81-\x84].{1,4}|[\x00-\x7f])\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07\x03/s;
		return "";
	}
	if ($kind eq "pgp") {
		return "X-Smilla '$x'" unless $x =~ /^encrypted pgp; recipients=\d+; cipher=aes256;/;
		my ($arm) = $b =~ /^-----BEGIN PGP MESSAGE-----\n\n(.*?)^-----END PGP MESSAGE-----$/sm
			or return "no armored message";
		my @l = split /\n/, $arm;
		my $crc = $l[-1] =~ /^=(.{4})$/ ? pop @l : undef;
		my $bin = MIME::Base64::decode_base64(join "", @l);
		return "armor without CRC-24" unless defined $crc;
		return "bad CRC-24" unless unpack("N", "\0" . MIME::Base64::decode_base64(substr $crc, 1)) == crc24($bin);
		my $tag = ord $bin;
		my $t = $tag & 0x40 ? $tag & 0x3f : ($tag >> 2) & 0x0f;
		return "first packet not a PKESK (tag $t)" unless $tag & 0x80 && $t == 1;
		return "";
	}
	my %st = (plain => "plaintext; reason=no-key;", vsmime => "plaintext; reason=disabled;",
		  vpgp => "plaintext; reason=disabled;");
	return "X-Smilla '$x'" unless index($x, $st{$kind}) == 0;
	return "body changed" if $b ne $sent;
	my $ar = join "|", @{$h->{"authentication-results"} // []};
	return "Authentication-Results '$ar'" if $kind eq "vsmime" && $ar !~ /^mx\.smilla\.test; smime=pass /;
	return "Authentication-Results '$ar'" if $kind eq "vpgp" && $ar !~ /^mx\.smilla\.test; x-pgp=pass /;
	return "";
}

sub tally {
	my ($expf, $resf, $maildir, $dir, $samplef) = @_;
	my (%want, %sent, @problems, %n);
	open my $e, "<", $expf or die "$expf: $!";
	while (<$e>) {
		my ($id, $rcpt, $kind, $dane, $t) = split;
		$want{"$id $rcpt"} = [$kind, $dane, $t];
		$n{expected}++;
	}
	open my $r, "<", $resf or die "$resf: $!";
	while (<$r>) {
		$n{results}++;
		my ($id, $st) = split;
		next if $st eq "ok";
		$n{"client_$st"}++;
		push @problems, "client: $_";
	}
	for my $t (qw(txt 8bit ssig psig)) {
		open my $f, "<", "$dir/$t.eml" or die "$dir/$t.eml: $!";
		local $/;
		(my $s = <$f>) =~ s/\r\n/\n/g;
		$sent{$t} = body_of($s);
	}
	my %seen;
	my %sample;
	for my $f (glob("$maildir/new/* $maildir/cur/*")) {
		open my $m, "<", $f or die "$f: $!";
		my $text = do { local $/; <$m> };
		my $h = header_of($text);
		my ($id) = ($h->{subject}[0] // "") =~ /^soak (soak\d+)$/;
		my $rcpt = $h->{"delivered-to"}[0] // "";
		my $k = ($id // "?") . " $rcpt";
		$n{delivered}++;
		if (!defined $id || !$want{$k}) {
			push @problems, "unexpected: $f ($k)";
			$n{unexpected}++;
			next;
		}
		if ($seen{$k}++) {
			push @problems, "twice: $k ($f)";
			$n{twice}++;
			next;
		}
		my ($kind, $dane, $t) = @{$want{$k}};
		$n{$kind}++;
		if (my $why = wrong($text, $kind, $sent{$t}, $dane)) {
			push @problems, "$k: $why ($f)";
			$n{wrong}++;
		}
		push @{$sample{$kind}}, "$f $rcpt $t $kind"
			if ($kind eq "smime" || $kind eq "pgp") && @{$sample{$kind} // []} < 20 &&
			   rand() < 0.05;
	}
	for my $k (sort keys %want) {
		next if $seen{$k};
		push @problems, "lost: $k";
		$n{lost}++;
	}
	open my $s, ">", $samplef or die "$samplef: $!";
	print $s "$_\n" for map { @{$sample{$_} // []} } qw(smime pgp);
	close $s;
	print join(" ", map { "$_=" . ($n{$_} // 0) }
		qw(results expected delivered lost twice unexpected wrong smime pgp plain vsmime vpgp)), "\n";
	print "problem: $_\n" for @problems[0 .. ($#problems < 19 ? $#problems : 19)];
	return @problems ? 1 : 0;
}

my $cmd = shift // "";
if ($cmd eq "plan" && @ARGV == 6) {
	plan(@ARGV);
} elsif ($cmd eq "tally" && @ARGV == 5) {
	exit tally(@ARGV);
} else {
	die "usage: soak.pl plan N SEED MSGDIR PLAN EXPECT DECISIONS | tally EXPECT RESULTS MAILDIR MSGDIR SAMPLE\n";
}
