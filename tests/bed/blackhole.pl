#!/usr/bin/perl
# blackhole.pl PORT PIDFILE [LIFETIME_SECONDS]
#
# A "DNS server" on 127.0.0.1:PORT (UDP and TCP) that reads every query and
# never answers, so resolvers pointed at it time out.  Core Perl modules only.
#
# It writes PIDFILE only once both sockets are bound, so the caller can use
# the pid file's appearance as "ready".  It exits by itself after LIFETIME
# seconds (default and maximum 3600) in case nobody ever stops it.
use strict;
use warnings;
use IO::Socket::INET;
use IO::Select;

my ($port, $pidfile, $lifetime) = @ARGV;
die "usage: $0 PORT PIDFILE [LIFETIME]\n"
    unless defined $pidfile && defined $port && $port =~ /^\d+$/;
$lifetime = 3600 if !defined $lifetime || $lifetime !~ /^\d+$/
    || $lifetime < 1 || $lifetime > 3600;

my $udp = IO::Socket::INET->new(
    LocalAddr => '127.0.0.1', LocalPort => $port, Proto => 'udp',
) or die "blackhole: cannot bind udp 127.0.0.1:$port: $@\n";
my $tcp = IO::Socket::INET->new(
    LocalAddr => '127.0.0.1', LocalPort => $port, Proto => 'tcp',
    Listen => 64, ReuseAddr => 1,
) or die "blackhole: cannot bind tcp 127.0.0.1:$port: $@\n";

my $done = 0;
$SIG{TERM} = $SIG{INT} = $SIG{HUP} = sub { $done = 1 };
$SIG{ALRM} = sub { $done = 1 };
$SIG{PIPE} = 'IGNORE';
alarm $lifetime;

# Write the pid file atomically so a reader never sees it half-written.
open my $fh, '>', "$pidfile.tmp" or die "blackhole: $pidfile.tmp: $!\n";
print $fh "$$\n";
close $fh or die "blackhole: $pidfile.tmp: $!\n";
rename "$pidfile.tmp", $pidfile or die "blackhole: $pidfile: $!\n";

my $sel = IO::Select->new($udp, $tcp);
my @clients;          # open TCP connections, oldest first
my $max_clients = 64; # keep the fd count bounded under a long test run

until ($done) {
    # A timeout so the $done flag set by a signal is seen promptly.
    for my $s ($sel->can_read(1)) {
        if ($s == $udp) {
            my $buf;
            $udp->recv($buf, 65535);    # swallow the query
        } elsif ($s == $tcp) {
            my $c = $tcp->accept or next;
            push @clients, $c;
            $sel->add($c);
            if (@clients > $max_clients) {
                my $old = shift @clients;
                $sel->remove($old);
                close $old;
            }
        } else {
            my $buf;
            my $n = sysread($s, $buf, 65535);
            if (!$n) {                  # EOF or error: peer gave up
                $sel->remove($s);
                @clients = grep { $_ != $s } @clients;
                close $s;
            }
        }
    }
}
# Remove the pid file only if it is still ours.
if (open my $in, '<', $pidfile) {
    my $p = <$in>;
    close $in;
    unlink $pidfile if defined $p && $p =~ /^(\d+)/ && $1 == $$;
}
exit 0;
