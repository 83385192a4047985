#!/usr/bin/perl
# blkbench-report.pl - the tables and JSON of blkbench.sh from its cells.
#
#   blkbench-report.pl [--json FILE] [--bs B --rw RW --qd N --seconds S --cores N] CELLS_DIR
#
# CELLS_DIR holds one directory per cell (guest count x backend x round)
# with meta.json (written by blkbench.sh: backend CPU ticks, wall time,
# failed guests), one blkguest JSON file per guest, and the sidecore
# snapshots before and after the I/O (s0/s1 .cores.json and .threads:
# benchlib.sh's bl_sample), from which come the cores' busy time and the
# core threads' CPU time per request.  A cell's
# figures are computed from its guests; a (guest count, backend) figure
# pools its rounds: sums of requests and CPU seconds, mean IOPS and Jain
# index, latency percentiles as the median over every guest of every round,
# and the guests' latency histograms summed (latency_hist_us in the JSON's
# results: tools/bench/plot.pl draws their CDFs).
# Prints one table per guest count; exit 1 if a cell lost guests or moved
# no request.  Only core Perl modules (JSON::PP) and BenchReport.pm beside it.
use strict;
use warnings;
use JSON::PP;
use FindBin;
use lib $FindBin::RealBin;
use BenchReport qw(parse_args slurp_json read_cells snapshots thread_ns sum mean median fmt_num
                   write_json);

my %o = (json => '', bs => '?', rw => '?', qd => '?', seconds => '?', cores => '?', pin => '?');
my $dir = parse_args('blkbench-report', \%o);

# The change of the sidecores' counters between two bl_sample snapshots:
# cores matched by name, threads by tid.  undef without snapshots, or when a
# core of the first is gone from the second: event mode's threads end with
# their queue, and its guests disconnect as soon as their I/O ends, before
# the second snapshot (so event mode has no such figures).
sub core_delta {
    my ($cell) = @_;
    my ($a, $b) = snapshots($cell);
    return undef unless ref $a eq 'ARRAY' && ref $b eq 'ARRAY' && @$a;
    my %after = map { $_->{name} => $_ } @$b;
    my %d = map { $_ => 0 } qw(busy_ns idle_ns sleep_ns rounds busy_rounds);
    for my $p (@$a) {
        my $c = $after{ $p->{name} } or return undef;
        $d{$_} += $c->{$_} - $p->{$_} for keys %d;
    }
    $d{thread_ns} = thread_ns($cell);
    return \%d;
}

# Figures from summed core counters (core_delta's keys) and requests.
sub core_metrics {
    my ($t, $req) = @_;
    my %x;
    my $all = $t->{busy_ns} + $t->{idle_ns} + $t->{sleep_ns};
    $x{core_busy_ns_per_request} = $req ? $t->{busy_ns} / $req : 0;
    # busy_ns is wall time: a round preempted by another process counts its
    # wait.  Scaled by the thread's on-CPU share of its rounds' time it
    # estimates on-CPU busy time (exact on a quiet CPU; preemption hits busy
    # and idle rounds alike, by duration).
    my $rounds_ns = $t->{busy_ns} + $t->{idle_ns};
    my $share = $rounds_ns ? $t->{thread_ns} / $rounds_ns : 0;
    $share = 1 if $share > 1;
    $x{core_on_cpu_share} = $share;
    $x{core_busy_cpu_ns_per_request} = $x{core_busy_ns_per_request} * $share;
    $x{core_cpu_ns_per_request} = $req ? $t->{thread_ns} / $req : 0;
    $x{core_busy_pct} = $all ? 100 * $t->{busy_ns} / $all : 0;
    $x{core_sleep_pct} = $all ? 100 * $t->{sleep_ns} / $all : 0;
    $x{requests_per_busy_round} = $t->{busy_rounds} ? $req / $t->{busy_rounds} : 0;
    $x{core_ns_per_busy_round} = $t->{busy_rounds} ? $t->{busy_ns} / $t->{busy_rounds} : 0;
    $x{core_ns_per_idle_round} = $t->{rounds} > $t->{busy_rounds}
        ? $t->{idle_ns} / ($t->{rounds} - $t->{busy_rounds}) : 0;
    return \%x;
}

# The latency histograms of blkguest (latency_hist_us: le, n) summed bucket
# by bucket (their buckets are the same), for the latency CDFs of plot.pl;
# undef if no guest had one (an older blkguest).
sub hist_sum {
    my %n;
    for my $h (@_) {
        $n{ $h->{le}[$_] } += $h->{n}[$_] for 0 .. $#{ $h->{le} };
    }
    return undef unless %n;
    my @le = sort { $a <=> $b } keys %n;
    return { le => [map { $_ + 0 } @le], n => [map { $n{$_} } @le] };
}

sub jain {
    my $n = @_;
    my $sq = sum(map { $_ * $_ } @_);
    return $n && $sq ? sum(@_)**2 / ($n * $sq) : 0;
}

# ---- cells ----
my @cells = read_cells('blkbench-report', $dir, sub {
    my ($name, $path, $meta) = @_;
    opendir(my $gd, $path) or return undef;
    my @guests;
    my $bad = 0;
    for my $g (sort grep { /^guest-\d+\.json$/ } readdir $gd) {
        my $j = slurp_json("$path/$g");
        if ($j) { push @guests, $j } else { $bad++ }
    }
    closedir $gd;
    my $cpu_s = $meta->{cpu_ticks} / $meta->{clk_tck};
    my $wall_s = $meta->{wall_ns} / 1e9;
    my $ios = sum(map { $_->{ios} } @guests);
    my $c = {
        guests => $meta->{guests}, backend => $meta->{backend}, round => $meta->{round},
        guests_reporting => scalar @guests,
        failed_guests => $meta->{failed_guests} + $bad,
        backend_alive => $meta->{backend_alive} ? JSON::PP::true : JSON::PP::false,
        requests => $ios,
        iops => sum(map { $_->{iops} } @guests),
        mb_per_s => sum(map { $_->{mb_per_s} } @guests),
        backend_cpu_s => $cpu_s,
        wall_s => $wall_s,
        backend_cpu_pct => $wall_s > 0 ? 100 * $cpu_s / $wall_s : 0,
        requests_per_cpu_s => $cpu_s > 0 ? $ios / $cpu_s : 0,
        kicks_sent => sum(map { $_->{kicks_sent} } @guests),
        kicks_received => sum(map { $_->{kicks_received} } @guests),
        errors => sum(map { $_->{errors} } @guests),
        p50_us_median => median(map { $_->{latency_us}{p50} } @guests),
        p99_us_median => median(map { $_->{latency_us}{p99} } @guests),
        p99_us_max => (sort { $b <=> $a } map { $_->{latency_us}{p99} } @guests)[0] // 0,
        jain => jain(map { $_->{iops} } @guests),
        per_guest => [map { {
            domid => $_->{domid}, iops => $_->{iops}, ios => $_->{ios},
            p50_us => $_->{latency_us}{p50}, p99_us => $_->{latency_us}{p99},
            kicks_sent => $_->{kicks_sent}, kicks_received => $_->{kicks_received},
            ring_pages => $_->{negotiated}{ring_pages},
            persistent => $_->{negotiated}{persistent}, result => $_->{result},
        } } @guests],
    };
    if (my $d = core_delta($path)) {
        $c->{"core_$_"} = $d->{$_} for keys %$d;
        my $m = core_metrics($d, $ios);
        $c->{$_} = $m->{$_} for keys %$m;
    }
    $c->{kicks_per_request} = $ios ? $c->{kicks_sent} / $ios : 0;
    $c->{notifies_per_response} = $ios ? $c->{kicks_received} / $ios : 0;
    $c->{_lat} = [map { [$_->{latency_us}{p50}, $_->{latency_us}{p99}] } @guests];
    $c->{_hist} = [map { $_->{latency_hist_us} || () } @guests];
    return $c;
});

# ---- aggregates per (guests, backend) ----
my (%agg, %counts, @backends);
for my $c (@cells) {
    push @{ $agg{$c->{guests}}{$c->{backend}} }, $c;
}
for my $b (qw(sidecore event floor)) {
    push @backends, $b if grep { exists $agg{$_}{$b} } keys %agg;
}
my @counts = sort { $a <=> $b } keys %agg;
my %res;
for my $n (@counts) {
    for my $b (@backends) {
        my $cs = $agg{$n}{$b} or next;
        my $req = sum(map { $_->{requests} } @$cs);
        my $cpu = sum(map { $_->{backend_cpu_s} } @$cs);
        my $wall = sum(map { $_->{wall_s} } @$cs);
        my @lat = map { @{ $_->{_lat} } } @$cs;
        $res{$n}{$b} = {
            rounds => scalar @$cs,
            iops => mean(map { $_->{iops} } @$cs),
            mb_per_s => mean(map { $_->{mb_per_s} } @$cs),
            backend_cpu_s => $cpu / @$cs,
            wall_s => $wall / @$cs,
            backend_cpu_pct => $wall > 0 ? 100 * $cpu / $wall : 0,
            requests_per_cpu_s => $cpu > 0 ? $req / $cpu : 0,
            kicks_per_request => $req ? sum(map { $_->{kicks_sent} } @$cs) / $req : 0,
            notifies_per_response => $req ? sum(map { $_->{kicks_received} } @$cs) / $req : 0,
            p50_us => median(map { $_->[0] } @lat),
            p99_us => median(map { $_->[1] } @lat),
            jain => mean(map { $_->{jain} } @$cs),
            requests => $req,
            failed_guests => sum(map { $_->{failed_guests} } @$cs),
            errors => sum(map { $_->{errors} } @$cs),
        };
        my $h = hist_sum(map { @{ $_->{_hist} } } @$cs);
        $res{$n}{$b}{latency_hist_us} = $h if $h;
        # The sidecores' own account, pooled over rounds like the CPU above.
        my @cd = grep { defined $_->{core_busy_ns} } @$cs;
        if (@cd) {
            my %t = map { my $k = $_; ($k => sum(map { $_->{"core_$k"} } @cd)) }
                qw(busy_ns idle_ns sleep_ns rounds busy_rounds thread_ns);
            my $m = core_metrics(\%t, sum(map { $_->{requests} } @cd));
            $res{$n}{$b}{$_} = $m->{$_} for keys %$m;
        }
    }
}

# ---- tables ----
sub fmt_ratio {
    my ($a, $b) = @_;
    return '-' unless defined $a && defined $b && $b > 0 && $a > 0;
    return sprintf('%.2fx', $a / $b);
}

my @rows = (
    ['IOPS (sum of guests)', 'iops', 0],
    ['MB/s', 'mb_per_s', 0],
    ['wall s (release to last I/O)', 'wall_s', 2],
    ['backend CPU s', 'backend_cpu_s', 2],
    ['backend CPU % of wall', 'backend_cpu_pct', 0],
    ['requests per backend CPU-s', 'requests_per_cpu_s', 0],
    ['frontend kicks / request', 'kicks_per_request', 4],
    ['backend notifies / response', 'notifies_per_response', 4],
    ['p50 us (median of guests)', 'p50_us', 1],
    ['p99 us (median of guests)', 'p99_us', 1],
    ["Jain's fairness index", 'jain', 3],
    ['core busy ns / request (wall)', 'core_busy_ns_per_request', 0],
    ['core busy ns / request (on-CPU est.)', 'core_busy_cpu_ns_per_request', 0],
    ['core thread on-CPU share of its rounds', 'core_on_cpu_share', 2],
    ['core thread CPU ns / request', 'core_cpu_ns_per_request', 0],
    ['core busy % (busy / busy+idle+sleep)', 'core_busy_pct', 0],
    ['core sleep %', 'core_sleep_pct', 0],
    ['requests / busy round', 'requests_per_busy_round', 2],
    ['core ns / busy round', 'core_ns_per_busy_round', 0],
    ['core ns / idle round', 'core_ns_per_idle_round', 0],
);
my $status = 0;
print "\n";
for my $n (@counts) {
    my $r = $res{$n};
    my ($any) = values %$r;
    printf "## %d guest%s: %s %s, qd %s, %s s%s, sidecores %s, %s\n\n", $n,
        $n == 1 ? '' : 's', $o{bs}, $o{rw}, $o{qd}, $o{seconds},
        $any->{rounds} > 1 ? " x $any->{rounds} rounds" : '', $o{cores},
        $o{pin} eq 'yes' ? 'backend pinned to its own CPU' : 'not pinned';
    my @hdr = ('metric', @backends);
    my $sc = $r->{sidecore};
    my @ratios;
    push @ratios, ['sidecore/event', 'event'] if $sc && $r->{event};
    push @ratios, ['sidecore/floor', 'floor'] if $sc && $r->{floor};
    push @hdr, map { $_->[0] } @ratios;
    print '| ', join(' | ', @hdr), " |\n";
    print '|---', '|---:' x (@hdr - 1), "|\n";
    for my $row (@rows) {
        my ($label, $key, $dec) = @$row;
        next unless grep { $r->{$_} && defined $r->{$_}{$key} } @backends;
        my @cols = ($label, map { fmt_num($r->{$_} ? $r->{$_}{$key} : undef, $dec) } @backends);
        push @cols, map { fmt_ratio($sc->{$key}, $r->{ $_->[1] }{$key}) } @ratios;
        print '| ', join(' | ', @cols), " |\n";
    }
    print "\n";
    # Round r of sidecore and of the floor ran next to each other: their
    # ratio, round by round, cancels the machine's slow drifts.
    my @paired = grep { $_->[0] && $_->[1] }
        map { my $k = $_; [ map { my $b = $_; (grep { $_->{round} == $k } @{ $agg{$n}{$b} || [] })[0] }
                            qw(sidecore floor) ] }
        sort { $a <=> $b } map { $_->{round} } @{ $agg{$n}{sidecore} || [] };
    if (@paired > 1) {
        for my $m (['core busy ns / request (on-CPU est.)', 'core_busy_cpu_ns_per_request'],
                   ['core thread CPU ns / request', 'core_cpu_ns_per_request']) {
            my @v = map { $_->[1]{ $m->[1] } ? $_->[0]{ $m->[1] } / $_->[1]{ $m->[1] } : () } @paired;
            printf "sidecore/floor, %s, round by round: %s (median %.2fx)\n", $m->[0],
                join(' ', map { sprintf '%.2fx', $_ } @v), median(@v) if @v;
        }
        print "\n";
    }
    for my $b (@backends) {
        my $x = $r->{$b} or next;
        if ($x->{failed_guests} || !$x->{requests}) {
            printf "WARNING: %s: %d guest(s) failed, %d requests\n", $b, $x->{failed_guests},
                $x->{requests};
            $status = 1;
        }
        printf "note: %s: %d request(s) answered with an error\n", $b, $x->{errors}
            if $x->{errors};
    }
}

if ($o{json}) {
    delete @$_{qw(_lat _hist)} for @cells;
    my $out = {
        params => { bs => $o{bs}, rw => $o{rw}, qd => $o{qd} + 0, seconds => $o{seconds} + 0,
                     sidecores => $o{cores} + 0, backend_pinned => $o{pin} eq 'yes' },
        latency_note => 'p50_us/p99_us: median over guests of each guest\'s percentile;' .
            ' latency_hist_us: every request of every guest and round, le = bucket upper bound',
        results => { map { my $n = $_; ($n => $res{$n}) } @counts },
        cells => \@cells,
    };
    write_json('blkbench-report', $o{json}, $out);
}
exit $status;
