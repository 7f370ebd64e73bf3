#!/usr/bin/perl
# smtp-step.pl - an SMTP client that stops in the middle of a
# transaction until told to go on, for the fault tests that kill a
# daemon while a message is on its way (tests/e2e/crash.t).
#
#   smtp-step.pl PORT WIRE PAUSE FROM RCPT...
#
# Plain SMTP to 127.0.0.1:PORT: EHLO client.test, MAIL FROM, a RCPT TO
# for each RCPT, DATA, the message of WIRE (as mail.sh's msg writes
# msg/NAME.wire: dot-stuffed, the final "." without its CRLF), QUIT.
# PAUSE says where it stops: "rcpt", after the last RCPT's reply (before
# DATA), or "data", in the middle of the message (the header and half
# of the body sent, the end of data not).  There it prints "paused" on
# stdout and waits for a line on stdin.  At the end it prints one line,
#   end COMMAND REPLY
# COMMAND being the first one answered with neither 2xx nor 3xx
# ("DATA", "." for the end of data ...), or "queued" with the reply to
# the end of data when the message was accepted.  The conversation goes
# to stderr, each line "-> " (sent) or "<- " (received).
use strict;
use warnings;
use IO::Socket::INET;

my ($port, $wire, $pause, $from, @rcpts) = @ARGV;
die "usage: $0 PORT WIRE rcpt|data FROM RCPT...\n"
	unless @rcpts && $pause =~ /\A(rcpt|data)\z/;
$| = 1;
open(my $w, "<:raw", $wire) or die "$wire: $!\n";
my $msg = do { local $/; <$w> };
$msg =~ s/\.\z// or die "$wire: no final dot\n";

my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1", PeerPort => $port,
	Proto => "tcp", Timeout => 30) or die "connect 127.0.0.1:$port: $!\n";

# reply: the whole (multi-line) reply, its lines joined by " | ".
sub reply {
	my @l;
	while (defined(my $l = <$s>)) {
		$l =~ s/\r?\n\z//;
		print STDERR "<- $l\n";
		push @l, $l;
		last unless $l =~ /\A\d{3}-/;
	}
	return @l ? join(" | ", @l) : "(connection closed)";
}
sub say_ { print STDERR "-> $_[0]\n"; print $s "$_[0]\r\n"; }
sub done {
	my ($what, $r) = @_;
	print "end $what $r\n";
	say_("QUIT") if $r !~ /\A(\(connection closed\)|421)/;
	reply() if $r !~ /\A\(connection closed\)/;
	exit 0;
}
# command: send one, done unless the reply is 2xx or 3xx.
sub command {
	my ($line, $what) = @_;
	say_($line);
	my $r = reply();
	done($what, $r) unless $r =~ /\A[23]/;
	return $r;
}
sub stop { print "paused\n"; my $go = <STDIN>; }

my $r = reply();
done("greeting", $r) unless $r =~ /\A2/;
command("EHLO client.test", "EHLO");
command("MAIL FROM:<$from>", "MAIL");
command("RCPT TO:<$_>", "RCPT") for @rcpts;
stop() if $pause eq "rcpt";
command("DATA", "DATA");
if ($pause eq "data") {
	# The header and the first half of the body, up to a line end.
	my $cut = index($msg, "\r\n\r\n") + 4;
	my $half = index($msg, "\r\n", $cut + int((length($msg) - $cut) / 2));
	$half = $half < 0 ? $cut : $half + 2;
	print $s substr($msg, 0, $half);
	print STDERR "-> (" . $half . " octets of the message)\n";
	stop();
	$msg = substr($msg, $half);
}
print $s $msg;
print STDERR "-> (the message, " . length($msg) . " octets)\n";
$r = command(".", ".");
done("queued", $r);
