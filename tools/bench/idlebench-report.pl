#!/usr/bin/perl
# idlebench-report.pl - the table and JSON of idlebench.sh from its cells.
#
#   idlebench-report.pl [--json FILE] [--seconds S --pin yes|no] CELLS_DIR
#
# CELLS_DIR holds one directory per cell (idle guest count x backend x
# round) with meta.json (idlebench.sh) and two snapshots of the sidecore,
# s0 and s1 (benchlib.sh's bl_sample: .cores.json, .threads, .t).  A
# (guest count, backend) figure pools its rounds (sums of nanoseconds and
# rounds).  Exit 1 if a cell has no usable snapshots; a window in which the
# core slept or found work is a WARNING (its rounds were not all empty).
# Only core Perl modules (JSON::PP) and BenchReport.pm beside it.
use strict;
use warnings;
use JSON::PP;
use FindBin;
use lib $FindBin::RealBin;
use BenchReport qw(parse_args slurp read_cells snapshots thread_ns sum fmt_num write_json);

my %o = (json => '', seconds => '?', pin => '?');
my $dir = parse_args('idlebench-report', \%o);

my $status = 0;
my @cells = read_cells('idlebench-report', $dir, sub {
    my ($name, $path, $meta) = @_;
    my ($a, $b) = snapshots($path);
    unless (ref $a eq 'ARRAY' && ref $b eq 'ARRAY' && @$a == 1 && @$b == 1) {
        print "WARNING: $name: no usable sidecorectl snapshots\n";
        $status = 1;
        return undef;
    }
    my ($c0, $c1) = ($a->[0], $b->[0]);
    my %d = map { $_ => $c1->{$_} - $c0->{$_} }
        qw(rounds busy_rounds busy_ns idle_ns sleep_ns sleeps);
    my $c = {
        guests => $meta->{guests}, backend => $meta->{backend}, round => $meta->{round},
        queues => $c1->{queues}, connect_ms => $meta->{connect_ms},
        poked => $meta->{poked} ? JSON::PP::true : JSON::PP::false,
        wall_ns => (slurp("$path/s1.t") // 0) - (slurp("$path/s0.t") // 0),
        thread_ns => thread_ns($path),
        map { ($_ => $d{$_}) } keys %d,
    };
    $c->{idle_rounds} = $c->{rounds} - $c->{busy_rounds};
    if ($d{sleeps} || $d{busy_rounds} || !$c->{idle_rounds}) {
        printf "WARNING: %s: the core slept %d time(s) (%.1f ms) and had %d busy round(s) in"
            . " the window\n", $name, $d{sleeps}, $d{sleep_ns} / 1e6, $d{busy_rounds};
    }
    if ($c->{queues} != $c->{guests}) {
        printf "WARNING: %s: %d queue(s) polled for %d guest(s)\n", $name, $c->{queues},
            $c->{guests};
        $status = 1;
    }
    return $c;
});

# ---- aggregates per (guests, backend) ----
my (%agg, %res);
push @{ $agg{ $_->{guests} }{ $_->{backend} } }, $_ for @cells;
my @counts = sort { $a <=> $b } keys %agg;
my @backends = grep { my $b = $_; grep { $agg{$_}{$b} } @counts } qw(sidecore floor);
for my $n (@counts) {
    for my $b (@backends) {
        my $cs = $agg{$n}{$b} or next;
        my %t = map { my $k = $_; ($k => sum(map { $_->{$k} } @$cs)) }
            qw(rounds idle_rounds busy_rounds idle_ns sleep_ns sleeps thread_ns wall_ns);
        my $r = {
            windows => scalar @$cs,
            %t,
            ns_per_round => $t{idle_rounds} ? $t{idle_ns} / $t{idle_rounds} : 0,
            cpu_ns_per_round => $t{rounds} ? $t{thread_ns} / $t{rounds} : 0,
            rounds_per_s => $t{wall_ns} ? $t{rounds} / ($t{wall_ns} / 1e9) : 0,
            cpu_pct => $t{wall_ns} ? 100 * $t{thread_ns} / $t{wall_ns} : 0,
        };
        if ($n) {
            $r->{ns_per_round_per_queue} = $r->{ns_per_round} / $n;
            $r->{cpu_ns_per_round_per_queue} = $r->{cpu_ns_per_round} / $n;
        }
        $res{$n}{$b} = $r;
    }
}
# What a queue adds to a round: the slope from the round without queues.
for my $b (@backends) {
    my $zero = $res{0}{$b} or next;
    for my $n (grep { $_ > 0 } @counts) {
        my $r = $res{$n}{$b} or next;
        $r->{marginal_ns_per_queue} = ($r->{ns_per_round} - $zero->{ns_per_round}) / $n;
        $r->{marginal_cpu_ns_per_queue} = ($r->{cpu_ns_per_round} - $zero->{cpu_ns_per_round}) / $n;
    }
}

# ---- table ----
my ($any) = values %{ $res{ $counts[0] } };
printf "\n## Idle poll round: one sidecore, idle queues, windows of %s s%s, %s\n\n",
    $o{seconds}, $any->{windows} > 1 ? " x $any->{windows} rounds" : '',
    $o{pin} eq 'yes' ? 'backend pinned to its own CPU' : 'not pinned';
# On-CPU figures first: on a shared machine they are the ones to compare.
my @cols = (
    ['CPU ns/round', 'cpu_ns_per_round', 1],
    ['CPU ns/round/queue', 'cpu_ns_per_round_per_queue', 1],
    ['marginal CPU ns/queue', 'marginal_cpu_ns_per_queue', 1],
    ['wall ns/round', 'ns_per_round', 1], ['wall ns/round/queue', 'ns_per_round_per_queue', 1],
    ['marginal wall ns/queue', 'marginal_ns_per_queue', 1],
    ['rounds/s', 'rounds_per_s', 0], ['CPU % of wall', 'cpu_pct', 0],
);
print '| queues | backend | ', join(' | ', map { $_->[0] } @cols), " |\n";
print '|---:|---', '|---:' x @cols, "|\n";
for my $n (@counts) {
    for my $b (@backends) {
        my $r = $res{$n}{$b} or next;
        print "| $n | $b | ", join(' | ', map { fmt_num($r->{ $_->[1] }, $_->[2]) } @cols), " |\n";
    }
}
print "\n";
if ($res{ $counts[-1] }{sidecore} && $counts[-1] > 0) {
    my $r = $res{ $counts[-1] }{sidecore};
    printf "sidecore at %d idle queues: %.1f ns per round per queue on CPU, %.1f by the loop's"
        . " wall-time account (goal <= 100)\n", $counts[-1], $r->{cpu_ns_per_round_per_queue},
        $r->{ns_per_round_per_queue};
}

if ($o{json}) {
    my $out = {
        params => { seconds => $o{seconds} + 0, backend_pinned => $o{pin} eq 'yes' },
        note => 'ns_per_round: idle_ns / idle rounds (the loop\'s wall-time account); '
            . 'cpu_ns_per_round: the sidecore thread\'s on-CPU ns (schedstat) / rounds; '
            . 'marginal_*: (value at N - value at 0) / N',
        results => { map { my $n = $_; ($n => $res{$n}) } @counts },
        cells => \@cells,
    };
    write_json('idlebench-report', $o{json}, $out);
}
exit $status;
