#!/usr/bin/perl
# client.pl - a scripted policy client for the daemon tests.
#   client.pl SOCKET < script
# SOCKET is a unix socket path or HOST:PORT.  Script lines:
#   open NAME                     open connection NAME
#   send NAME helo=H key=FP [state=S] [instance=I] [raw=TEXT]
#                                 send one request (no wait)
#   recv NAME [TIMEOUT]           wait for one answer, print
#                                 "NAME <ms> action=..." (ms since its send)
#   closed NAME [TIMEOUT]         print "NAME closed" or "NAME open"
#   sleep SECONDS
# Core Perl only.
use strict;
use warnings;
use IO::Socket::UNIX;
use IO::Socket::INET;
use IO::Select;
use Time::HiRes qw(time sleep);

my $target = shift or die "usage: client.pl SOCKET < script\n";
my (%sock, %sent, %buf);
$| = 1;

sub connect_to {
	return $target =~ m{^/}
	    ? IO::Socket::UNIX->new(Peer => $target, Type => SOCK_STREAM)
	    : IO::Socket::INET->new(PeerAddr => $target, Proto => 'tcp');
}

sub wait_answer {
	my ($name, $timeout) = @_;
	my $s = $sock{$name};
	my $end = time + $timeout;
	while (($buf{$name} // '') !~ /\n\n/) {
		my $left = $end - time;
		return undef if $left <= 0;
		return '' unless IO::Select->new($s)->can_read($left);
		my $n = sysread($s, my $chunk, 65536);
		return '' unless $n;
		$buf{$name} .= $chunk;
	}
	$buf{$name} =~ s/^(.*?)\n\n//s;
	return $1;
}

while (my $line = <STDIN>) {
	chomp $line;
	next if $line =~ /^\s*(#|$)/;
	my ($cmd, $name, @args) = split ' ', $line;
	if ($cmd eq 'open') {
		$sock{$name} = connect_to() or die "connect $target: $!\n";
	} elsif ($cmd eq 'send') {
		my %a = map { split /=/, $_, 2 } @args;
		my $req = defined $a{raw} ? $a{raw} =~ s/\\n/\n/gr :
		    "request=smtpd_access_policy\nprotocol_state=" .
		    ($a{state} // 'RCPT') . "\nhelo_name=$a{helo}\n" .
		    "client_address=127.0.0.1\ninstance=" . ($a{instance} // "i$.") .
		    "\nccert_pubkey_fingerprint=" . ($a{key} // '') . "\n\n";
		syswrite($sock{$name}, $req);
		$sent{$name} = time;
	} elsif ($cmd eq 'recv') {
		my $ans = wait_answer($name, $args[0] // 10);
		my $ms = int((time - $sent{$name}) * 1000);
		print defined $ans ? ($ans eq '' ? "$name closed\n" : "$name $ms $ans\n")
		    : "$name timeout\n";
	} elsif ($cmd eq 'closed') {
		my $ans = wait_answer($name, $args[0] // 2);
		print defined $ans && $ans eq '' ? "$name closed\n" : "$name open\n";
	} elsif ($cmd eq 'sleep') {
		sleep($name);
	}
}
