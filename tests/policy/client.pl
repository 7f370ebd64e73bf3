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
#   close NAME                    close connection NAME
#   burst NAME N helo=H key=FP    send N requests without waiting for
#                                 answers (read only when the daemon
#                                 takes no more)
#   recvn NAME N [TIMEOUT]        wait for N answers, print
#                                 "NAME N answers, P pass"
#   trickle NAME helo=H key=FP    send one request a few octets at a time
#   flood NAME helo=H key=FP      send requests, reading nothing, until
#                                 the daemon takes no more for a second
#                                 (or 16 MB went); print "NAME stalled
#                                 after N requests" (or "not stalled"),
#                                 then read every answer: "NAME N
#                                 answers, H header, B bad" (one
#                                 instance: the header comes once)
#   hold N                        open N more connections and keep them,
#                                 sending nothing; print "hold K open"
#                                 (K: how many connected, in 5 s each)
#   cpu PID SECONDS               CPU time process PID takes over SECONDS
#                                 (utime + stime of /proc/PID/stat):
#                                 print "cpu N%"
#   sleep SECONDS
# Core Perl only.
use strict;
use warnings;
use IO::Socket::UNIX;
use IO::Socket::INET;
use IO::Select;
use Time::HiRes qw(time sleep);
use POSIX ();

my $target = shift or die "usage: client.pl SOCKET < script\n";
my (%sock, %sent, %buf, @held);
$| = 1;

sub connect_to {
	return $target =~ m{^/}
	    ? IO::Socket::UNIX->new(Peer => $target, Type => SOCK_STREAM)
	    : IO::Socket::INET->new(PeerAddr => $target, Proto => 'tcp');
}

# utime + stime of process PID, in seconds.
sub cpu_of {
	open(my $fh, '<', "/proc/$_[0]/stat") or die "/proc/$_[0]/stat: $!\n";
	my $stat = <$fh>;
	# The command name (field 2) may hold spaces: count after its ')'.
	my @f = split ' ', substr($stat, rindex($stat, ')') + 2);
	return ($f[11] + $f[12]) / POSIX::sysconf(POSIX::_SC_CLK_TCK());
}

sub wait_answer {
	my ($name, $timeout) = @_;
	my $s = $sock{$name};
	my $end = time + $timeout;
	while (($buf{$name} // '') !~ /\n\n/) {
		my $left = $end - time;
		return undef if $left <= 0;
		# A timeout is not a close: undef, so "closed" says "open".
		return undef unless IO::Select->new($s)->can_read($left);
		my $n = sysread($s, my $chunk, 65536);
		return '' unless $n;
		$buf{$name} .= $chunk;
	}
	$buf{$name} =~ s/^(.*?)\n\n//s;
	return $1;
}

# A request from "name=value" words (raw=TEXT: TEXT as is, \n for newlines).
sub request {
	my %a = map { split /=/, $_, 2 } @_;
	return $a{raw} =~ s/\\n/\n/gr if defined $a{raw};
	return "request=smtpd_access_policy\nprotocol_state=" .
	    ($a{state} // 'RCPT') . "\nhelo_name=$a{helo}\n" .
	    "client_address=127.0.0.1\ninstance=" . ($a{instance} // "i$.") .
	    "\nccert_pubkey_fingerprint=" . ($a{key} // '') . "\n\n";
}

while (my $line = <STDIN>) {
	chomp $line;
	next if $line =~ /^\s*(#|$)/;
	my ($cmd, $name, @args) = split ' ', $line;
	if ($cmd eq 'open') {
		$sock{$name} = connect_to() or die "connect $target: $!\n";
	} elsif ($cmd eq 'send') {
		syswrite($sock{$name}, request(@args));
		$sent{$name} = time;
	} elsif ($cmd eq 'close') {
		close($sock{$name});
	} elsif ($cmd eq 'burst') {
		my $n = shift @args;
		my $all = join '', map { request(@args, "instance=b$_") } 1 .. $n;
		my $s = $sock{$name};
		# Answers are read only when the daemon takes no more input
		# (it stops reading while its answers pile up).
		$s->blocking(0);
		while (length $all) {
			my $w = syswrite($s, $all);
			if (defined $w) {
				substr($all, 0, $w) = '';
				next;
			}
			die "write: $!\n" unless $!{EAGAIN};
			my ($r) = IO::Select->select(IO::Select->new($s),
			    IO::Select->new($s), undef, 10);
			if ($r && @$r) {
				my $n = sysread($s, my $chunk, 65536);
				$buf{$name} .= $chunk if $n;
			}
		}
		$s->blocking(1);
		$sent{$name} = time;
	} elsif ($cmd eq 'recvn') {
		my ($n, $pass) = (0, 0);
		while ($n < $args[0]) {
			my $ans = wait_answer($name, $args[1] // 10);
			last unless defined $ans && $ans ne '';
			$n++;
			$pass++ if $ans =~ /^action=PREPEND DANE-Client-Auth: pass /;
		}
		print "$name $n answers, $pass pass\n";
	} elsif ($cmd eq 'flood') {
		my $s = $sock{$name};
		my $req = request(@args, 'instance=flood');
		my ($bytes, $idle) = (0, 0);
		$s->blocking(0);
		while ($bytes < 16 << 20 && $idle < 10) {
			my $off = $bytes % length $req;
			my $w = syswrite($s, substr($req, $off) . $req x 63);
			if (defined $w && $w > 0) {
				$bytes += $w;
				$idle = 0;
			} else {
				die "write: $!\n" unless $!{EAGAIN};
				$idle++;
				sleep(0.1);
			}
		}
		my $n = int($bytes / length $req);
		print $idle ? "$name stalled after $n requests\n"
		    : "$name not stalled ($n requests)\n";
		# Finish the request cut in the middle, then take the answers.
		my $rest = $bytes % length $req ? substr($req, $bytes % length $req) : '';
		$n++ if length $rest;
		my ($got, $hdr, $bad) = (0, 0, 0);
		while ($got < $n) {
			if (length $rest) {
				my $w = syswrite($s, $rest);
				substr($rest, 0, $w) = '' if defined $w && $w > 0;
			}
			IO::Select->new($s)->can_read(10) or last;
			my $r = sysread($s, my $chunk, 65536);
			last unless $r;
			$buf{$name} .= $chunk;
			while ($buf{$name} =~ s/^(.*?)\n\n//s) {
				my $a = $1;
				$got++;
				$hdr++ if $a =~ /^action=PREPEND DANE-Client-Auth: pass /;
				$bad++ unless $a =~ /^action=(PREPEND|DUNNO)/;
			}
		}
		$s->blocking(1);
		print "$name $got answers, $hdr header, $bad bad\n";
	} elsif ($cmd eq 'trickle') {
		my $req = request(@args);
		while (length $req) {
			syswrite($sock{$name}, substr($req, 0, 7, ''));
			sleep(0.002);
		}
		$sent{$name} = time;
	} elsif ($cmd eq 'recv') {
		my $ans = wait_answer($name, $args[0] // 10);
		my $ms = int((time - $sent{$name}) * 1000);
		print defined $ans ? ($ans eq '' ? "$name closed\n" : "$name $ms $ans\n")
		    : "$name timeout\n";
	} elsif ($cmd eq 'closed') {
		my $ans = wait_answer($name, $args[0] // 2);
		print defined $ans && $ans eq '' ? "$name closed\n" : "$name open\n";
	} elsif ($cmd eq 'hold') {
		my $k = 0;
		while ($k < $name) {
			# A blocking connect waits while the listen queue is
			# full (a non-blocking one would fail at once).
			my $s = eval {
				local $SIG{ALRM} = sub { die "timeout\n" };
				alarm 5;
				my $c = connect_to();
				alarm 0;
				$c;
			} or last;
			push @held, $s;
			$k++;
		}
		print "hold $k open\n";
	} elsif ($cmd eq 'cpu') {
		my ($t0, $c0) = (time, cpu_of($name));
		sleep($args[0]);
		my ($t1, $c1) = (time, cpu_of($name));
		printf "cpu %d%%\n", 100 * ($c1 - $c0) / ($t1 - $t0);
	} elsif ($cmd eq 'sleep') {
		sleep($name);
	}
}
