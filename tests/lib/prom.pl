#!/usr/bin/perl
# prom.pl - a strict reader of the Prometheus text exposition format
# (0.0.4) as the node exporter's textfile collector takes it.
#   prom.pl FILE
# Prints one "name{label="value",...} VALUE" line per sample, in file
# order (label values as written, escapes kept), and exits 0; or prints
# "prom.pl: FILE:LINE: reason" to stderr and exits 1 when the file is
# not well-formed:
#   - every line is "# HELP name text", "# TYPE name counter|gauge", or
#     a sample "name[{label="value",...}] number" (no timestamps);
#   - names and label names are valid, label values use only the
#     escapes \\ \" \n, no label repeats within a sample;
#   - a family's HELP and TYPE come once each, before its samples,
#     and its samples are together; no sample repeats;
#   - counters are named *_total, and their values are integers >= 0;
#   - the file is not empty and ends with a newline.
# Core Perl only.
use strict;
use warnings;

my $file = shift // die "usage: prom.pl FILE\n";
open(my $fh, '<', $file) or die "prom.pl: $file: $!\n";
local $/;
my $text = <$fh>;
close($fh);

my $n = 0;
sub bad { print STDERR "prom.pl: $file:$n: $_[0]\n"; exit 1; }

my $NAME = qr/[a-zA-Z_:][a-zA-Z0-9_:]*/;
my $LABEL = qr/[a-zA-Z_][a-zA-Z0-9_]*/;
my (%help, %type, %done, %seen, @out);
my $current = '';

bad("empty file") if $text eq '';
bad("no newline at the end") unless $text =~ /\n\z/;
chop $text;
for my $line (split /\n/, $text, -1) {
	$n++;
	if ($line =~ /^# HELP ($NAME) (.*)$/) {
		my ($name, $doc) = ($1, $2);
		bad("HELP $name twice") if $help{$name}++;
		bad("HELP $name after its samples") if $done{$name} || $current eq $name;
		(my $bare = $doc) =~ s/\\[\\n]//g;
		bad("bad escape in HELP: $doc") if $bare =~ /\\/;
		next;
	}
	if ($line =~ /^# TYPE ($NAME) (\S+)$/) {
		my ($name, $t) = ($1, $2);
		bad("TYPE $name twice") if $type{$name};
		bad("TYPE $name after its samples") if $done{$name} || $current eq $name;
		bad("type $t of $name is not counter or gauge")
		    unless $t eq 'counter' || $t eq 'gauge';
		bad("counter $name does not end in _total")
		    if $t eq 'counter' && $name !~ /_total$/;
		$type{$name} = $t;
		next;
	}
	bad("comment or empty line: $line") if $line =~ /^#/ || $line eq '';
	$line =~ /^($NAME)(\{(.*)\})? (\S+)$/ or bad("not a sample: $line");
	my ($name, $labels, $value) = ($1, $3, $4);
	bad("sample of $name without TYPE") unless $type{$name};
	bad("sample of $name without HELP") unless $help{$name};
	if ($current ne $name) {
		bad("samples of $name not together") if $done{$name};
		$done{$current} = 1 if $current ne '';
		$current = $name;
	}
	my %l;
	if (defined $labels) {
		my $rest = $labels;
		while ($rest ne '') {
			$rest =~ s/^($LABEL)="((?:[^"\\\n]|\\[\\"n])*)"// or
			    bad("bad label list: {$labels}");
			bad("label $1 twice") if exists $l{$1};
			$l{$1} = $2;
			last if $rest eq '';
			$rest =~ s/^,// or bad("bad label list: {$labels}");
		}
	}
	bad("not a number: $value")
	    unless $value =~ /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/ ||
		   $value =~ /^[+-]?Inf$|^NaN$/;
	bad("counter $name: $value is not an integer >= 0")
	    if $type{$name} eq 'counter' && $value !~ /^\d+$/;
	my $series = $name . (%l ? '{' . join(',', map { "$_=\"$l{$_}\"" }
					       sort keys %l) . '}' : '');
	bad("$series twice") if $seen{$series}++;
	push @out, "$series $value";
}
print "$_\n" for @out;
exit 0;
