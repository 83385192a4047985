#!/usr/bin/perl
# promcheck.pl - a strict parser of the Prometheus text exposition format
# (0.0.4), for tests of sidecored's metrics endpoint (Debian's promtool comes
# only with the whole Prometheus server).
#
#   promcheck.pl FILE                 0 if FILE is valid; else every problem
#                                     on stderr, exit 1
#   promcheck.pl --get FILE NAME [LABEL=VALUE...]
#                                     the sum of the samples of NAME whose
#                                     labels include those given; exit 1
#                                     (and nothing printed) if none match
#   promcheck.pl --count FILE NAME [LABEL=VALUE...]   how many match
#
# Checked: every line is a HELP, a TYPE, a comment or a sample; metric and
# label names are well formed (no reserved __ labels); label values use only
# the escapes \\ \" \n; a family has at most one HELP and one TYPE, both
# before its first sample, and its samples are not split by another
# family's; no series (name and label set) twice; values are floats
# (NaN, +Inf, -Inf allowed); counters are named *_total and never negative;
# a histogram's series have _bucket, _sum and _count, buckets with le
# ascending and counts cumulative, an le="+Inf" bucket equal to _count;
# samples of a histogram or counter family carry only its own names.
use strict;
use warnings;

my $mode = 'check';
if (@ARGV && $ARGV[0] =~ /^--(get|count)$/) {
    $mode = $1;
    shift @ARGV;
}
my $file = shift @ARGV // die "usage: promcheck.pl [--get|--count] FILE [NAME [L=V...]]\n";
open(my $fh, '<', $file) or die "$file: $!\n";
my @lines = <$fh>;
close $fh;

my $NAME = qr/[a-zA-Z_:][a-zA-Z0-9_:]*/;
my $LNAME = qr/[a-zA-Z_][a-zA-Z0-9_]*/;
my $FLOAT = qr/[+-]?(?:(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|Inf|NaN)/;
my @errors;
my (%help, %type, %done, %seen, %series, @samples);
my $current = '';    # the family whose samples come now

sub err { push @errors, "line $_[0]: $_[1]" }

# The family a sample name belongs to, given the TYPEs seen.
sub family_of {
    my ($name) = @_;
    for my $suffix (qw(_bucket _sum _count)) {
        if ($name =~ /^(.*)\Q$suffix\E$/ && ($type{$1} // '') eq 'histogram') {
            return $1;
        }
    }
    return $name;
}

sub parse_labels {
    my ($s, $n) = @_;    # the text between the braces
    my %l;
    my @order;
    while (length $s) {
        unless ($s =~ s/^($LNAME)="((?:[^"\\\n]|\\[\\"n])*)"//) {
            err($n, "malformed labels at '$s'");
            return undef;
        }
        my ($k, $v) = ($1, $2);
        err($n, "reserved label name $k") if $k =~ /^__/;
        err($n, "label $k twice") if exists $l{$k};
        $v =~ s/\\(.)/$1 eq 'n' ? "\n" : $1/ge;
        $l{$k} = $v;
        push @order, $k;
        last unless length $s;
        unless ($s =~ s/^,//) {
            err($n, "expected a comma at '$s'");
            return undef;
        }
    }
    return \%l;
}

my $n = 0;
for my $line (@lines) {
    $n++;
    unless ($line =~ s/\n\z//) {
        err($n, "no newline at the end");
    }
    if ($line =~ /^#/) {
        if ($line =~ /^# (HELP|TYPE) (\S+)(?: (.*))?$/) {
            my ($kw, $name, $rest) = ($1, $2, $3 // '');
            err($n, "bad metric name '$name'") unless $name =~ /^$NAME$/;
            err($n, "$kw of $name after its samples") if $seen{$name};
            if ($kw eq 'HELP') {
                err($n, "second HELP for $name") if exists $help{$name};
                err($n, "bad escape in HELP") if $rest =~ /\\(?![\\n])/;
                $help{$name} = $rest;
            } else {
                err($n, "second TYPE for $name") if exists $type{$name};
                err($n, "unknown type '$rest'")
                    unless $rest =~ /^(counter|gauge|histogram|summary|untyped)$/;
                $type{$name} = $rest;
            }
            if ($current ne $name) {
                $done{$current} = 1 if $current ne '';
                $current = $name;
            }
        }
        next;    # another comment
    }
    if ($line =~ /^\s*$/) {
        err($n, "blank line");
        next;
    }
    unless ($line =~ /^($NAME)(?:\{(.*)\})? ($FLOAT)(?: (-?[0-9]+))?$/) {
        err($n, "not a sample: '$line'");
        next;
    }
    my ($name, $ltext, $value) = ($1, $2 // '', $3);
    my $labels = parse_labels($ltext, $n) or next;
    my $fam = family_of($name);
    if ($fam ne $current) {
        err($n, "samples of $fam split by another family's") if $done{$fam};
        $done{$current} = 1 if $current ne '';
        $current = $fam;
    }
    $seen{$fam} = 1;
    err($n, "$fam has no TYPE before its samples") unless exists $type{$fam};
    err($n, "$fam has no HELP before its samples") unless exists $help{$fam};
    my $t = $type{$fam} // 'untyped';
    if ($t eq 'counter') {
        err($n, "counter $fam is not named *_total") unless $fam =~ /_total$/;
        err($n, "counter $name is negative ($value)") if $value =~ /^-/;
    }
    err($n, "le label on a $t") if $t ne 'histogram' && exists $labels->{le};
    my $key = $name . '{' . join(',', map { "$_=$labels->{$_}" } sort keys %$labels) . '}';
    err($n, "series $key twice") if $series{$key}++;
    push @samples, { name => $name, family => $fam, labels => $labels, value => $value, line => $n };
}

# Histograms, one label set (without le) at a time.
my %hist;
for my $s (@samples) {
    next unless ($type{$s->{family}} // '') eq 'histogram';
    my %l = %{ $s->{labels} };
    my $le = delete $l{le};
    my $id = $s->{family} . '{' . join(',', map { "$_=$l{$_}" } sort keys %l) . '}';
    my $h = $hist{$id} //= { buckets => [] };
    if ($s->{name} =~ /_bucket$/) {
        if (!defined $le) {
            err($s->{line}, "bucket without le");
            next;
        }
        push @{ $h->{buckets} }, [$le, $s->{value}, $s->{line}];
    } elsif ($s->{name} =~ /_sum$/) {
        err($s->{line}, "le on _sum") if defined $le;
        $h->{sum} = $s->{value};
    } else {
        err($s->{line}, "le on _count") if defined $le;
        $h->{count} = $s->{value};
    }
}
for my $id (sort keys %hist) {
    my $h = $hist{$id};
    my ($prev_le, $prev_c) = (-9**9**9, 0);
    my $inf;
    for my $b (@{ $h->{buckets} }) {
        my ($le, $c, $line) = @$b;
        my $lev = $le eq '+Inf' ? 9**9**9 : $le;
        if ($le ne '+Inf' && $le !~ /^$FLOAT$/) {
            err($line, "$id: le '$le' is not a number");
            next;
        }
        err($line, "$id: le $le not above the previous bucket's") unless $lev > $prev_le;
        err($line, "$id: bucket le=$le ($c) below the previous one ($prev_c): not cumulative")
            if $c < $prev_c;
        ($prev_le, $prev_c) = ($lev, $c);
        $inf = $c if $le eq '+Inf';
    }
    push @errors, "$id: no le=\"+Inf\" bucket" unless defined $inf;
    push @errors, "$id: no _count" unless defined $h->{count};
    push @errors, "$id: no _sum" unless defined $h->{sum};
    push @errors, "$id: +Inf bucket $inf != _count $h->{count}"
        if defined $inf && defined $h->{count} && $inf != $h->{count};
}

if ($mode eq 'check') {
    print STDERR "promcheck: $file: $_\n" for @errors;
    print STDERR "promcheck: $file: no samples\n" unless @samples;
    exit(@errors || !@samples ? 1 : 0);
}

# --get / --count
die "promcheck: $file is not valid:\n" . join("\n", @errors) . "\n" if @errors;
my $want = shift @ARGV // die "promcheck: --$mode needs a metric name\n";
my %want_l = map { /^([^=]+)=(.*)$/ ? ($1 => $2) : die "promcheck: '$_' is not LABEL=VALUE\n" } @ARGV;
my ($sum, $count) = (0, 0);
SAMPLE: for my $s (@samples) {
    next unless $s->{name} eq $want;
    for my $k (keys %want_l) {
        next SAMPLE unless defined $s->{labels}{$k} && $s->{labels}{$k} eq $want_l{$k};
    }
    $sum += $s->{value};
    $count++;
}
if ($mode eq 'count') {
    print "$count\n";
    exit 0;
}
exit 1 unless $count;
print "$sum\n";
