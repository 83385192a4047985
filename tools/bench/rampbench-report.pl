#!/usr/bin/perl
# rampbench-report.pl - the tables (and JSON) of rampbench.sh from its cells:
#   rampbench-report.pl --rounds N [--json FILE] --guests N --step S
#       --spin-ns NS --interval-ms MS CELLS_DIR
# CELLS_DIR/ramp-rR (samples, idle-before, idle-after, probes, guest-D.json,
# probe-D.cores{0,1}.json, status.json), poll-rR (probes, guest-D.json,
# probe-D.cores*), floor-rR/floor-T.json.  A samples line is
#   t_ms busy_guests active_cores cores_added cores_parked requests
#   then per core: active busy_ns total_ns queues
#   then per queue: NAME=requests (NAME with "_" for spaces)
# Exit 1 if a round's files are missing or a probe failed.
use strict;
use warnings;
use Getopt::Long;
use JSON::PP;

my ($rounds, $json_out, $nbusy, $step, $spin, $interval) = (1, "", 3, 4, 20000, 500);
GetOptions("rounds=i" => \$rounds, "json=s" => \$json_out, "guests=i" => \$nbusy,
           "step=i" => \$step, "spin-ns=i" => \$spin, "interval-ms=i" => \$interval)
    or die "rampbench-report: bad options\n";
my $cells = shift // die "rampbench-report: CELLS_DIR\n";
my $status = 0;
my $GOAL_US = 50;

sub slurp_json {
    my ($f) = @_;
    open(my $h, "<", $f) or return undef;
    local $/;
    my $t = <$h>;
    return eval { decode_json($t) };
}

sub lines {
    my ($f) = @_;
    open(my $h, "<", $f) or return ();
    return map { [split] } grep { /\S/ } <$h>;
}

sub core0 { my ($j) = @_; return $j && @$j ? $j->[0] : {} }

# CPU over an idle window as % of one CPU: the daemon's (field 1) or its
# sidecores' (field 2)
sub idle_pct {
    my ($f, $k) = @_;
    my ($l) = lines($f);
    return undef unless $l && $l->[0] && defined $l->[$k // 1];
    return 100.0 * $l->[$k // 1] / $l->[0];
}

# wake-ups per second of every core over an idle window
sub idle_wakeups {
    my ($pre) = @_;
    my ($a, $b) = (slurp_json("$pre.cores0.json"), slurp_json("$pre.cores1.json"));
    my ($l) = lines($pre);
    return undef unless $a && $b && $l && $l->[0];
    my $w = 0;
    for my $i (0 .. $#$b) { $w += ($b->[$i]{wakeups} // 0) - ($a->[$i]{wakeups} // 0) }
    return $w / ($l->[0] / 1e9);
}

sub ramp_of {
    my ($dir) = @_;
    my @s = lines("$dir/samples");
    return undef unless @s > 2;
    my $ncores = grep({ !/=/ } @{ $s[0] }) - 6;
    $ncores /= 4;
    # requests per queue: IOPS from the queues present in both samples
    # (a guest that ended took its counter along)
    my @req = map { +{ map { split /=/ } grep { /=/ } @$_ } } @s;
    my $iops = sub {
        my ($i, $j) = @_;
        my $dt = ($s[$j][0] - $s[$i][0]) / 1000;
        return 0 unless $dt > 0;
        my $n = 0;
        for my $q (keys %{ $req[$j] }) {
            $n += $req[$j]{$q} - $req[$i]{$q} if exists $req[$i]{$q};
        }
        return $n / $dt;
    };
    my $st = slurp_json("$dir/status.json");
    my $min = $st ? $st->{rebalance}{min_cores} : 1;
    my $end_ms = (2 * $nbusy - 1) * $step * 1000;
    my ($max, $t_add, $t_peak, $t_park) = (0, undef, 0, undef);
    for my $x (@s) {
        if ($x->[2] > $max) { $max = $x->[2]; $t_peak = $x->[0] }
        $t_add //= $x->[0] / 1000 if $x->[3] > $s[0][3];
    }
    for my $x (@s) {
        next if $x->[0] < $t_peak || $max <= $min;
        if ($x->[2] <= $min) { $t_park = ($x->[0] - $end_ms) / 1000; last }
    }
    my (@timeline, $peak_iops);
    $peak_iops = 0;
    for my $i (1 .. $#s) {
        my ($a, $b) = ($s[$i - 1], $s[$i]);
        my $dt = ($b->[0] - $a->[0]) / 1000;
        next unless $dt > 0;
        my @busy;
        for my $c (0 .. $ncores - 1) {
            my $o = 6 + 4 * $c;
            my $tot = $b->[$o + 2] - $a->[$o + 2];
            push @busy, $tot > 0 ? 100 * ($b->[$o + 1] - $a->[$o + 1]) / $tot : 0;
        }
        push @timeline, { t_s => $b->[0] / 1000, busy_guests => $b->[1] + 0,
                          active => $b->[2] + 0, iops => $iops->($i - 1, $i),
                          busy_pct => \@busy,
                          queues => [map { $b->[6 + 4 * $_ + 3] + 0 } 0 .. $ncores - 1] };
    }
    # peak IOPS over 1 s (4 samples)
    for my $i (4 .. $#s) {
        my $r = $iops->($i - 4, $i);
        $peak_iops = $r if $r > $peak_iops;
    }
    # active cores each second: the last sample of the second
    my %sec;
    $sec{int($_->[0] / 1000)} = [$_->[2], $_->[1]] for @s;
    my $by_sec = join(" ", map { "$sec{$_}[0]" } sort { $a <=> $b } keys %sec);
    my $g_sec = join(" ", map { "$sec{$_}[1]" } sort { $a <=> $b } keys %sec);
    # the busy guests' own verdicts: every one ran and got no error
    my $failed = 0;
    for my $l (lines("$dir/busy")) {
        my $j = slurp_json("$dir/guest-$l->[0].json");
        $failed++ unless $j && $j->{result} eq "ok";
    }
    if ($failed) {
        warn "rampbench: $dir: $failed busy guest(s) failed\n";
        $status = 1;
    }
    return { min_cores => $min + 0, max_active => $max + 0, busy_guests_failed => $failed,
             cores_added => $s[-1][3] - $s[0][3], cores_parked => $s[-1][4] - $s[0][4],
             returned_to_min => ($s[-1][2] <= $min ? JSON::PP::true : JSON::PP::false),
             seconds_to_add => $t_add, seconds_to_park_after_last_end => $t_park,
             ramp_seconds => $end_ms / 1000, peak_iops => $peak_iops,
             idle_cpu_pct_before => idle_pct("$dir/idle-before"),
             idle_cpu_pct_after => idle_pct("$dir/idle-after"),
             idle_cores_cpu_pct_before => idle_pct("$dir/idle-before", 2),
             idle_cores_cpu_pct_after => idle_pct("$dir/idle-after", 2),
             idle_wakeups_per_s_before => idle_wakeups("$dir/idle-before"),
             idle_wakeups_per_s_after => idle_wakeups("$dir/idle-after"),
             active_by_second => $by_sec, busy_guests_by_second => $g_sec,
             timeline => \@timeline };
}

# probe results of a cell: think_us -> {p50, p99, ..., ios, kicks_per_req, sleeps_per_req}
sub probes_of {
    my ($dir) = @_;
    my %p;
    for my $l (lines("$dir/probes")) {
        my ($d, $t) = @$l;
        my $j = slurp_json("$dir/guest-$d.json");
        unless ($j && $j->{result} eq "ok" && $j->{ios}) { $status = 1; next }
        my ($ca, $cb) = (slurp_json("$dir/probe-$d.cores0.json"),
                         slurp_json("$dir/probe-$d.cores1.json"));
        my ($a, $b) = (core0($ca), core0($cb));
        my $sl = defined $a->{sleeps} && defined $b->{sleeps} ? $b->{sleeps} - $a->{sleeps} : undef;
        # the probe's queue is on sc0; the other (parked) core must stay still
        my $other = 0;
        if ($ca && $cb) {
            $other += ($cb->[$_]{rounds} // 0) - ($ca->[$_]{rounds} // 0) for 1 .. $#$cb;
        }
        warn "rampbench: WARNING: $dir: the parked core ran $other rounds during probe $t us\n"
            if $other > 0;
        $p{$t} = { %{ $j->{latency_us} }, ios => $j->{ios},
                   kicks_per_req => $j->{kicks_sent} / $j->{ios},
                   core_sleeps_per_req => defined $sl ? $sl / $j->{ios} : undef,
                   other_core_rounds => $other };
    }
    return \%p;
}

my (@rows, @added50);
for my $r (1 .. $rounds) {
    my $ramp = ramp_of("$cells/ramp-r$r");
    $status = 1 unless $ramp;
    my ($sleep, $poll) = (probes_of("$cells/ramp-r$r"), probes_of("$cells/poll-r$r"));
    my @lat;
    for my $t (sort { $a <=> $b } keys %$sleep) {
        my $f = slurp_json("$cells/floor-r$r/floor-$t.json");
        my ($s, $p) = ($sleep->{$t}, $poll->{$t});
        my $x = { think_us => $t + 0, sleeping => $s, polling => $p,
                  floor => $f ? { wake => $f->{wake_us}, round_trip => $f->{round_trip_us} }
                              : undef };
        if ($p) {
            $x->{added_p50_us} = $s->{p50} - $p->{p50};
            $x->{added_p99_us} = $s->{p99} - $p->{p99};
            $x->{added_mean_us} = $s->{mean} - $p->{mean};
            $x->{added_min_us} = $s->{min} - $p->{min};
            push @added50, $x->{added_p50_us};
        }
        push @lat, $x;
    }
    push @rows, { round => $r, ramp => $ramp, latency => \@lat };
}

sub f { my ($v, $fmt) = @_; defined $v ? sprintf($fmt, $v) : "-" }

printf "%d busy guests (qd-bound, %d ns of sidecore CPU per request), one more every %d s, then one "
    . "fewer; sidecored --cores 2 --cores-min 1 (CPUs 0,1), balancer interval %d ms\n",
    $nbusy, $spin, $step, $interval;
print "| round | max active | s to add | s to park (after the last guest) | back to min | "
    . "idle CPU before (sidecores) | idle CPU after (sidecores) | idle wake-ups/s | peak IOPS |\n";
print "|---|---|---|---|---|---|---|---|---|\n";
for my $x (@rows) {
    my $m = $x->{ramp} or next;
    printf "| %d | %d of 2 | %s | %s | %s | %s%% (%s%%) | %s%% (%s%%) | %s / %s | %.0f |\n",
        $x->{round}, $m->{max_active}, f($m->{seconds_to_add}, "%.2f"),
        f($m->{seconds_to_park_after_last_end}, "%.2f"), $m->{returned_to_min} ? "yes" : "no",
        f($m->{idle_cpu_pct_before}, "%.3f"), f($m->{idle_cores_cpu_pct_before}, "%.4f"),
        f($m->{idle_cpu_pct_after}, "%.3f"), f($m->{idle_cores_cpu_pct_after}, "%.4f"),
        f($m->{idle_wakeups_per_s_before}, "%.1f"), f($m->{idle_wakeups_per_s_after}, "%.1f"),
        $m->{peak_iops};
}
for my $x (@rows) {
    my $m = $x->{ramp} or next;
    printf "round %d, each second: busy guests %s\n", $x->{round}, $m->{busy_guests_by_second};
    printf "round %d, each second: active cores %s\n", $x->{round}, $m->{active_by_second};
}
print "\nprobe: one 4 KiB read every THINK us at qd 1 (p50 / p99 (min) us; kicks: the guest's per"
    . " request; sleeps: sc0's per request)\n";
print "| round | think | sleeping core | kicks, sleeps | polling core | kicks | added p50 / p99 | "
    . "floor: one wake | floor: round trip |\n";
print "|---|---|---|---|---|---|---|---|---|\n";
for my $x (@rows) {
    for my $l (@{ $x->{latency} }) {
        my ($s, $p, $fl) = @$l{qw(sleeping polling floor)};
        printf "| %d | %.0f ms | %.0f / %.0f (%.0f) | %.2f, %s | %s | %s | %s | %s | %s |\n",
            $x->{round}, $l->{think_us} / 1000, $s->{p50}, $s->{p99}, $s->{min},
            $s->{kicks_per_req}, f($s->{core_sleeps_per_req}, "%.2f"),
            $p ? sprintf("%.0f / %.0f (%.0f)", $p->{p50}, $p->{p99}, $p->{min}) : "-",
            $p ? sprintf("%.2f", $p->{kicks_per_req}) : "-",
            $p ? sprintf("%.0f / %.0f (%.0f)", $l->{added_p50_us}, $l->{added_p99_us},
                         $s->{min} - $p->{min}) : "-",
            $fl ? sprintf("%.0f / %.0f (%.0f)", $fl->{wake}{p50}, $fl->{wake}{p99}, $fl->{wake}{min})
                : "-",
            $fl ? sprintf("%.0f / %.0f (%.0f)", $fl->{round_trip}{p50}, $fl->{round_trip}{p99},
                          $fl->{round_trip}{min}) : "-";
    }
}
my @s = sort { $a <=> $b } @added50;
my $median = @s ? $s[$#s / 2] : undef;
printf "added by a sleeping core, p50, median over rounds and think times: %s us (goal < %d us): %s\n",
    f($median, "%.1f"), $GOAL_US, defined $median ? ($median < $GOAL_US ? "met" : "not met") : "-";

if ($json_out) {
    open(my $f, ">", $json_out) or die "$json_out: $!";
    print $f JSON::PP->new->canonical->encode({
        config => { busy_guests => $nbusy, step_s => $step, spin_ns => $spin,
                    interval_ms => $interval, cores => 2, cores_min => 1 },
        rounds => \@rows,
        summary => { added_p50_us_median => $median, goal_us => $GOAL_US,
                     goal_met => defined $median && $median < $GOAL_US ? JSON::PP::true
                                                                       : JSON::PP::false } });
}
exit $status;
