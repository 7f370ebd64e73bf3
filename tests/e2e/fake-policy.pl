#!/usr/bin/perl
# A stand-in Postfix policy server, for the e2e harness's self-test
# (tests/e2e/harness.t).  Core Perl modules only.
#
#   fake-policy.pl [--log FILE] [--pidfile FILE] SOCKET   listen on a unix socket
#   fake-policy.pl [--log FILE] --stdin                   one connection on
#                                                         stdin/stdout (spawn(8))
#
# Speaks the Postfix policy delegation protocol (SMTPD_POLICY_README): a
# request is "name=value" lines ended by an empty line, the reply is
# "action=...\n\n"; any number of requests per connection.  It answers
#
#   action=PREPEND X-Fake-Policy: helo=<helo_name> fp=<ccert_pubkey_fingerprint>
#
# to every request, except at protocol_state END-OF-MESSAGE, where PREPEND
# is not allowed: there it answers action=DUNNO.
#
# --log FILE appends every request, verbatim, as a block
#   "# pid P conn C req R state S"  + the attribute lines + an empty line.
# Blocks are separated by empty lines (diagnostics are "# pid P note: ..."
# paragraphs).  Each block is one write(2) on an O_APPEND file, so several
# processes (spawn mode) can share a log.  In --stdin mode the file must be
# writable by the spawn(8) user (e.g. nobody).
#
# In --stdin mode stdout AND stderr are the socket to Postfix (spawn(8)
# connects all three streams): nothing but replies may be written there, so
# diagnostics go to the log file or nowhere.
#
# Socket mode: one process multiplexes all connections with select(2) (each
# smtpd process keeps its own persistent connection); the socket is made
# mode 0666 so the unprivileged postfix user can connect; SIGTERM/SIGINT
# remove the socket and the pid file.
use strict;
use warnings;
use IO::Socket::UNIX;
use IO::Select;
use Fcntl qw(O_WRONLY O_APPEND O_CREAT);
use Socket qw(SOCK_STREAM);

my ($log_file, $pid_file, $stdin_mode, $sock_path);
while (@ARGV) {
	my $a = shift @ARGV;
	if    ($a eq '--log')     { $log_file = shift @ARGV; }
	elsif ($a eq '--pidfile') { $pid_file = shift @ARGV; }
	elsif ($a eq '--stdin')   { $stdin_mode = 1; }
	elsif ($a =~ /^-/)        { usage(); }
	else                      { usage() if defined $sock_path; $sock_path = $a; }
}
usage() unless $stdin_mode xor defined $sock_path;

sub usage {
	print STDERR "usage: $0 [--log FILE] [--pidfile FILE] SOCKET | [--log FILE] --stdin\n";
	exit 2;
}

my $LOG;
if (defined $log_file) {
	sysopen($LOG, $log_file, O_WRONLY | O_APPEND | O_CREAT, 0666)
	    or ($stdin_mode ? exit(1) : die "fake-policy: $log_file: $!\n");
}

sub note {    # a diagnostic: to the log (if any) and, outside spawn mode, stderr
	my $msg = "# pid $$ note: @_\n\n";    # a paragraph of its own
	syswrite($LOG, $msg) if $LOG;
	print STDERR "fake-policy: @_\n" unless $stdin_mode;
}

# Connection state: fd => { rbuf, wbuf, attrs (hashref), lines (arrayref), n }
my %conn;
my $nconn = 0;
my $MAX_LINE = 8192;    # longer request lines are a protocol error

sub reply_for {
	my ($attrs) = @_;
	my $state = $attrs->{protocol_state} // '';
	return 'DUNNO' if $state eq 'END-OF-MESSAGE';
	my $helo = $attrs->{helo_name} // '';
	my $fp   = $attrs->{ccert_pubkey_fingerprint} // '';
	return "PREPEND X-Fake-Policy: helo=$helo fp=$fp";
}

# Feed bytes read from a connection; returns false on a protocol error
# (the caller then closes without replying, so Postfix uses default_action).
sub feed {
	my ($c, $data) = @_;
	$c->{rbuf} .= $data;
	while ((my $i = index($c->{rbuf}, "\n")) >= 0) {
		my $line = substr($c->{rbuf}, 0, $i);
		substr($c->{rbuf}, 0, $i + 1) = '';
		$line =~ s/\r\z//;
		if ($line eq '') {
			next unless @{$c->{lines}};    # stray empty line: ignore
			$c->{n}++;
			my $state = $c->{attrs}{protocol_state} // '?';
			if ($LOG) {
				syswrite($LOG, "# pid $$ conn $c->{id} req $c->{n} state $state\n"
				    . join('', map { "$_\n" } @{$c->{lines}}) . "\n");
			}
			$c->{wbuf} .= 'action=' . reply_for($c->{attrs}) . "\n\n";
			$c->{attrs} = {};
			$c->{lines} = [];
			next;
		}
		my ($name, $value) = $line =~ /\A([^=]+)=(.*)\z/s;
		if (!defined $name) {
			note("conn $c->{id}: protocol error: bad line '" . substr($line, 0, 80) . "'");
			return 0;
		}
		$c->{attrs}{$name} = $value;
		push @{$c->{lines}}, $line;
	}
	if (length($c->{rbuf}) > $MAX_LINE) {
		note("conn $c->{id}: protocol error: line too long");
		return 0;
	}
	return 1;
}

sub new_conn { return { id => ++$nconn, rbuf => '', wbuf => '', attrs => {}, lines => [], n => 0 }; }

# ------------------------------------------------------------ --stdin mode
if ($stdin_mode) {
	# stderr is the Postfix connection too: silence Perl's own warnings.
	$SIG{__WARN__} = sub { note("warning: @_") };
	$SIG{__DIE__}  = sub { note("die: @_") };
	$SIG{PIPE}     = 'IGNORE';
	my $c = new_conn();
	while (1) {
		my $n = sysread(STDIN, my $buf, 65536);
		last if !defined $n && !$!{EINTR} || defined $n && $n == 0;
		next unless defined $n;
		last unless feed($c, $buf);
		while (length $c->{wbuf}) {
			my $w = syswrite(STDOUT, $c->{wbuf});
			if (!defined $w) { next if $!{EINTR}; exit 0; }
			substr($c->{wbuf}, 0, $w) = '';
		}
	}
	exit 0;
}

# ------------------------------------------------------------ socket mode
unlink $sock_path;    # a stale socket from a killed run
my $old_umask = umask 0;
my $listener = IO::Socket::UNIX->new(Type => SOCK_STREAM, Local => $sock_path, Listen => 64)
    or die "fake-policy: listen on $sock_path: $!\n";
umask $old_umask;
chmod 0666, $sock_path;
if (defined $pid_file) {
	open(my $pf, '>', "$pid_file.tmp") or die "fake-policy: $pid_file: $!\n";
	print $pf "$$\n";
	close $pf;
	rename "$pid_file.tmp", $pid_file or die "fake-policy: $pid_file: $!\n";
}
my $running = 1;
$SIG{TERM} = $SIG{INT} = sub { $running = 0 };
$SIG{PIPE} = 'IGNORE';

my $rsel = IO::Select->new($listener);
my %sock;    # fileno => socket
while ($running) {
	my $wsel = IO::Select->new(map { $sock{$_} } grep { length $conn{$_}{wbuf} } keys %conn);
	my ($r, $w) = IO::Select->select($rsel, $wsel, undef, 1);
	next unless $r || $w;
	for my $s (@{$w || []}) {
		my $c = $conn{fileno $s} or next;
		my $n = syswrite($s, $c->{wbuf});
		if (defined $n) { substr($c->{wbuf}, 0, $n) = ''; }
		elsif (!$!{EAGAIN} && !$!{EINTR}) { drop($s); }
	}
	for my $s (@{$r || []}) {
		if ($s == $listener) {
			my $new = $listener->accept or next;
			$new->blocking(0);
			$sock{fileno $new} = $new;
			$conn{fileno $new} = new_conn();
			$rsel->add($new);
			next;
		}
		my $c = $conn{fileno $s} or next;
		my $n = sysread($s, my $buf, 65536);
		if (!defined $n) { drop($s) unless $!{EAGAIN} || $!{EINTR}; next; }
		if ($n == 0 || !feed($c, $buf)) { drop($s); next; }
		# Try to answer at once; select picks up what does not fit.
		if (length $c->{wbuf}) {
			my $w = syswrite($s, $c->{wbuf});
			substr($c->{wbuf}, 0, $w) = '' if defined $w;
		}
	}
}
unlink $sock_path;
unlink $pid_file if defined $pid_file;
exit 0;

sub drop {
	my ($s) = @_;
	my $fd = fileno $s;
	$rsel->remove($s);
	delete $conn{$fd};
	delete $sock{$fd};
	close $s;
}
