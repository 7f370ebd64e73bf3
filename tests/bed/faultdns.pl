#!/usr/bin/perl
# faultdns.pl PORT UPSTREAM_PORT MODEFILE PIDFILE
#
# A DNS proxy on 127.0.0.1:PORT (UDP and TCP) in front of the bed's NSD
# on 127.0.0.1:UPSTREAM_PORT, that breaks answers the way MODEFILE says.
# The file is read at every query, so a test switches the fault by
# rewriting it (atomically: write and rename).  Its first line:
#
#   pass        forward the query, relay the answer
#   drop        read the query, never answer (a dead path)
#   slow N      forward, but hand the answer back N seconds later
#   servfail    answer SERVFAIL at once, no records
#   bogus       forward, and change the last octet of every RRSIG's
#               signature: the data no longer validates
#   truncate    over UDP, an empty answer with TC set; over TCP, pass
#   truncdead   over UDP, TC set; a TCP connection is closed unanswered
#
# A missing or unreadable file means pass.  Every query is counted in
# PIDFILE's directory as faultdns.count (one line: the total), so a
# test can tell whether a lookup reached the network.  "Server down"
# needs no mode: stop the proxy (SIGTERM) and the port is closed.
#
# It writes PIDFILE once both sockets are bound (the caller waits for
# it), and exits by itself after an hour.  Core Perl modules only.
use strict;
use warnings;
use IO::Socket::INET;
use IO::Select;
use Time::HiRes qw(time);

my ($port, $up, $modefile, $pidfile) = @ARGV;
die "usage: $0 PORT UPSTREAM_PORT MODEFILE PIDFILE\n"
    unless defined $pidfile && $port =~ /^\d+$/ && $up =~ /^\d+$/;
(my $countfile = $pidfile) =~ s{[^/]*$}{faultdns.count};

my $udp = IO::Socket::INET->new(
    LocalAddr => '127.0.0.1', LocalPort => $port, Proto => 'udp',
) or die "faultdns: cannot bind udp 127.0.0.1:$port: $@\n";
my $tcp = IO::Socket::INET->new(
    LocalAddr => '127.0.0.1', LocalPort => $port, Proto => 'tcp',
    Listen => 64, ReuseAddr => 1,
) or die "faultdns: cannot bind tcp 127.0.0.1:$port: $@\n";

my $done = 0;
$SIG{TERM} = $SIG{INT} = $SIG{HUP} = $SIG{ALRM} = sub { $done = 1 };
$SIG{PIPE} = 'IGNORE';
alarm 3600;

open my $fh, '>', "$pidfile.tmp" or die "faultdns: $pidfile.tmp: $!\n";
print $fh "$$\n";
close $fh or die "faultdns: $pidfile.tmp: $!\n";
rename "$pidfile.tmp", $pidfile or die "faultdns: $pidfile: $!\n";

my $queries = 0;
sub count {
    $queries++;
    if (open my $c, '>', "$countfile.tmp") {
        print $c "$queries\n";
        close $c;
        rename "$countfile.tmp", $countfile;
    }
}

sub mode {
    open my $m, '<', $modefile or return ('pass');
    my $line = <$m> // 'pass';
    close $m;
    return split ' ', $line;
}

# The length of the (possibly compressed) name at OFF in MSG.
sub name_end {
    my ($msg, $off) = @_;
    while ($off < length $msg) {
        my $len = ord substr $msg, $off, 1;
        return $off + 2 if ($len & 0xc0) == 0xc0;
        return $off + 1 if $len == 0;
        $off += 1 + $len;
    }
    return undef;
}

# The answer with the last signature octet of every RRSIG flipped.
sub spoil {
    my ($msg) = @_;
    return $msg if length $msg < 12;
    my ($qd, $an, $ns, $ar) = unpack 'x4 n n n n', $msg;
    my $off = 12;
    for (1 .. $qd) {
        $off = name_end($msg, $off) // return $msg;
        $off += 4;
    }
    for (1 .. $an + $ns + $ar) {
        $off = name_end($msg, $off) // return $msg;
        return $msg if $off + 10 > length $msg;
        my ($type, $rdlen) = unpack 'n x6 n', substr $msg, $off, 10;
        $off += 10;
        return $msg if $off + $rdlen > length $msg;
        if ($type == 46 && $rdlen > 0) {
            my $at = $off + $rdlen - 1;
            substr($msg, $at, 1) = chr(ord(substr $msg, $at, 1) ^ 0x55);
        }
        $off += $rdlen;
    }
    return $msg;
}

# The query turned into an answer with no records: flags QR and RA
# added, TC and RCODE as given, the question kept.
sub empty_answer {
    my ($q, $tc, $rcode) = @_;
    return undef if length $q < 12;
    my ($id, $flags, $qd) = unpack 'n n n', $q;
    my $off = 12;
    for (1 .. $qd) {
        $off = name_end($q, $off) // return undef;
        $off += 4;
    }
    return undef if $off > length $q;
    $flags = ($flags & 0x7900) | 0x8080 | ($tc ? 0x0200 : 0) | $rcode;
    return pack('n n n n n n', $id, $flags, $qd, 0, 0, 0) . substr $q, 12, $off - 12;
}

# Ask NSD over UDP (or TCP when the answer is truncated); undef when
# it does not answer within 2 s.
sub upstream {
    my ($q) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $up,
                                  Proto => 'udp') or return undef;
    $s->send($q);
    my $sel = IO::Select->new($s);
    return undef unless $sel->can_read(2);
    my $a;
    $s->recv($a, 65535);
    return $a if !defined $a || length $a < 4
        || !((unpack 'x2 n', $a) & 0x0200);
    my $t = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $up,
                                  Proto => 'tcp', Timeout => 2) or return undef;
    print $t pack('n', length $q), $q;
    my $hdr = '';
    read($t, $hdr, 2) == 2 or return undef;
    my $n = unpack 'n', $hdr;
    read($t, $a, $n) == $n or return undef;
    return $a;
}

# What to send back for query Q under the current mode (undef: nothing),
# and when.
sub respond {
    my ($q, $over_tcp) = @_;
    my ($m, $arg) = mode();
    count();
    return () if $m eq 'drop';
    if ($m eq 'servfail') {
        return (empty_answer($q, 0, 2), 0);
    }
    if (($m eq 'truncate' || $m eq 'truncdead') && !$over_tcp) {
        return (empty_answer($q, 1, 0), 0);
    }
    return () if $m eq 'truncdead';
    my $a = upstream($q);
    return () unless defined $a;
    $a = spoil($a) if $m eq 'bogus';
    return ($a, $m eq 'slow' ? ($arg // 5) : 0);
}

my $sel = IO::Select->new($udp, $tcp);
my @later;      # [due time, socket, peer or undef for TCP, answer]
my %inbuf;      # TCP connection => octets read so far
while (!$done) {
    my $wait = 0.5;
    for (@later) { my $w = $_->[0] - time; $wait = $w if $w < $wait; }
    $wait = 0 if $wait < 0;
    for my $s ($sel->can_read($wait)) {
        if ($s == $udp) {
            my $q;
            my $peer = $udp->recv($q, 65535);
            next unless defined $peer;
            my ($a, $delay) = respond($q, 0);
            push @later, [time + $delay, $udp, $peer, $a] if defined $a;
        } elsif ($s == $tcp) {
            my $c = $tcp->accept or next;
            $inbuf{$c} = '';
            $sel->add($c);
        } else {
            my $buf;
            my $n = sysread($s, $buf, 65535);
            if (!$n) {
                $sel->remove($s);
                delete $inbuf{$s};
                close $s;
                next;
            }
            $inbuf{$s} .= $buf;
            while (length $inbuf{$s} >= 2) {
                my $len = unpack 'n', $inbuf{$s};
                last if length $inbuf{$s} < 2 + $len;
                my $q = substr $inbuf{$s}, 2, $len;
                substr($inbuf{$s}, 0, 2 + $len) = '';
                my ($m) = mode();
                if ($m eq 'truncdead') {
                    count();
                    $sel->remove($s);
                    delete $inbuf{$s};
                    close $s;
                    last;
                }
                my ($a, $delay) = respond($q, 1);
                push @later, [time + $delay, $s, undef, $a] if defined $a;
            }
        }
    }
    my $now = time;
    my @keep;
    for my $l (@later) {
        if ($l->[0] > $now) { push @keep, $l; next; }
        my ($s, $peer, $a) = @$l[1, 2, 3];
        if (defined $peer) {
            $s->send($a, 0, $peer);
        } elsif (exists $inbuf{$s}) {
            syswrite $s, pack('n', length $a) . $a;
        }
    }
    @later = @keep;
}
if (open my $in, '<', $pidfile) {
    my $p = <$in>;
    close $in;
    unlink $pidfile if defined $p && $p =~ /^(\d+)/ && $1 == $$;
}
exit 0;
