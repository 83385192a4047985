#!/usr/bin/perl
# netbench-report - netbench.sh's cells into markdown tables, the goal
# ratios and (--json) every cell and aggregate.
#
#   netbench-report.pl [--json FILE] [--seconds S] [--tcp-seconds T] [--pin yes|no] CELLS_DIR
#
# A cell directory (netbench.sh writes it) holds meta.json (scenario, size,
# guests, backend, round, failed_guests, backend_alive, host_sent_pps), two
# snapshots s0/s1 of the backend (.t wall ns, .cpu "schedstat-ns ticks",
# .devices.json: sidecorectl devices --json, .link.json: the TAP's
# counters), the guests' simnetfront reports guest-DOMID.json, `roles`
# ("domid gen|sink peer"), and for tcp iperf.json.  What each figure means
# is in netbench.sh's header.  Exit 1 when a cell lost its backend or a
# guest, or moved nothing.
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use BenchReport qw(parse_args slurp slurp_json snapshots thread_ns read_cells sum mean median fmt_num
                   write_json);

my %o = (json => '', seconds => '?', 'tcp-seconds' => '?', pin => '?', nice => '?', load => '?');
my $dir = parse_args('netbench-report', \%o);
my @BACKENDS = qw(sidecore event floor veth veth-cpu0);
my @TRAFFIC = qw(tx_packets rx_packets tx_drops rx_drops kicks notifies);

sub jain {
    my $n = @_;
    my $sq = sum(map { $_ * $_ } @_);
    return $n && $sq ? sum(@_)**2 / ($n * $sq) : undef;
}

# A snapshot's time: the middle of the two clock reads around the devices
# call (ns), and how long the call took (s).
sub snap_time {
    my ($path) = @_;
    my @t = split ' ', slurp($path) // '';
    return () unless @t;
    push @t, $t[0] if @t == 1;
    return (($t[0] + $t[1]) / 2, ($t[1] - $t[0]) / 1e9);
}

# The vifs' traffic in a devices snapshot: name -> {counter -> value}.
sub traffic {
    my ($j) = @_;
    return undef unless ref $j eq 'ARRAY';
    my %t;
    for my $d (@$j) {
        my $tr = $d->{class} && ref $d->{class} eq 'HASH' ? $d->{class}{traffic} : undef;
        $t{ $d->{name} } = { map { $_ => $tr->{$_} // 0 } @TRAFFIC } if $tr;
    }
    return \%t;
}

# Counter deltas between the snapshots, summed over the vifs in both.
sub traffic_delta {
    my ($path) = @_;
    my ($a, $b) = map { traffic(slurp_json("$path/$_.devices.json")) } qw(s0 s1);
    return undef unless $a && $b;
    my %d = map { $_ => 0 } @TRAFFIC;
    my $vifs = 0;
    for my $name (keys %$a) {
        my $x = $b->{$name} or next;
        $vifs++;
        $d{$_} += $x->{$_} - $a->{$name}{$_} for @TRAFFIC;
    }
    $d{vifs} = $vifs;
    return \%d;
}

# The sidecores' own account between the snapshots (sidecorectl cores:
# busy/idle/sleep ns, rounds), cores matched by name, and their threads'
# on-CPU ns (schedstat); undef without both snapshots.
sub core_delta {
    my ($path) = @_;
    my ($a, $b) = snapshots($path);
    return undef unless ref $a eq 'ARRAY' && ref $b eq 'ARRAY' && @$a;
    my %after = map { $_->{name} => $_ } @$b;
    my %d = map { $_ => 0 } qw(busy_ns idle_ns sleep_ns rounds busy_rounds);
    for my $p (@$a) {
        my $c = $after{ $p->{name} } or return undef;
        $d{$_} += $c->{$_} - $p->{$_} for keys %d;
    }
    $d{thread_ns} = thread_ns($path);
    return \%d;
}

# Figures from summed core counters (core_delta's keys) and packets.
# busy_ns is wall time (a round preempted by another process counts its
# wait): scaled by the threads' on-CPU share of their rounds' time, it
# estimates the on-CPU time of the rounds that moved packets.
sub core_metrics {
    my ($t, $pk) = @_;
    my $all = $t->{busy_ns} + $t->{idle_ns} + $t->{sleep_ns};
    my $rounds_ns = $t->{busy_ns} + $t->{idle_ns};
    my $share = $rounds_ns ? $t->{thread_ns} / $rounds_ns : 0;
    $share = 1 if $share > 1;
    return {
        core_busy_pct => $all ? 100 * $t->{busy_ns} / $all : undef,
        core_sleep_pct => $all ? 100 * $t->{sleep_ns} / $all : undef,
        core_on_cpu_share => $share,
        core_busy_ns_per_packet => $pk ? $t->{busy_ns} * $share / $pk : undef,
        core_thread_ns_per_packet => $pk ? $t->{thread_ns} / $pk : undef,
        packets_per_busy_round => $t->{busy_rounds} ? $pk / $t->{busy_rounds} : undef,
    };
}

sub link_delta {
    my ($path) = @_;
    my ($a, $b) = map { my $j = slurp_json("$path/$_.link.json"); ref $j eq 'ARRAY' ? $j->[0]{stats64} : undef } qw(s0 s1);
    return undef unless $a && $b;
    return { map { my ($dir, $k) = split /_/, $_, 2; ($_ => $b->{$dir}{$k} - $a->{$dir}{$k}) }
             qw(rx_packets rx_dropped tx_packets tx_dropped) };
}

# ---- cells ----
my @cells = read_cells('netbench-report', $dir, sub {
    my ($name, $path, $meta) = @_;
    my $c = { map { $_ => $meta->{$_} } qw(scenario size guests backend round failed_guests host_sent_pps connect_ms) };
    $c->{name} = $name;
    $c->{backend_alive} = $meta->{backend_alive} ? JSON::PP::true : JSON::PP::false;
    my ($scen, $be) = ($c->{scenario}, $c->{backend});
    # the guests
    my %guest;
    opendir(my $dh, $path) or return undef;
    for my $f (grep { /^guest-(\d+)\.json$/ } readdir $dh) {
        my ($d) = $f =~ /(\d+)/;
        my $j = slurp_json("$path/$f");
        if ($j) { $guest{$d} = $j } else { $c->{failed_guests}++ unless $scen eq 'tcp' }
    }
    closedir $dh;
    $c->{guests_failed_result} = scalar grep { ($_->{result} // '') ne 'ok' } values %guest;
    my @roles = map { [split] } grep { /\S/ } split /\n/, slurp("$path/roles") // '';
    # the window: backend CPU and counters
    my ($t0, $d0) = snap_time("$path/s0.t");
    my ($t1, $d1) = snap_time("$path/s1.t");
    $c->{snapshot_s} = [$d0, $d1] if defined $d1;
    my ($c0, $c1) = map { [split ' ', slurp("$path/$_.cpu") // ''] } qw(s0 s1);
    if (defined $t0 && defined $t1 && @$c0 == 2 && @$c1 == 2) {
        $c->{window_s} = ($t1 - $t0) / 1e9;
        $c->{backend_cpu_s} = ($c1->[0] - $c0->[0]) / 1e9;
        $c->{backend_cpu_s_ticks} = ($c1->[1] - $c0->[1]) / $meta->{clk_tck};
        # schedstat is per living thread: one that ended took its time along
        $c->{backend_cpu_s} = $c->{backend_cpu_s_ticks} if $c->{backend_cpu_s} < 0;
        $c->{backend_cpu_pct} = $c->{window_s} > 0 ? 100 * $c->{backend_cpu_s} / $c->{window_s} : 0;
    }
    my $after = slurp_json("$path/s1.devices.json");
    $c->{vifs_gone_in_window} = scalar grep { ($_->{state} // '') ne 'Connected' } @$after
        if ref $after eq 'ARRAY';
    my $d = traffic_delta($path);
    if ($d) {
        $c->{"backend_$_"} = $d->{$_} for @TRAFFIC, 'vifs';
        my $pk = $scen eq 'switch' ? ($be eq 'floor' ? 'tx_packets' : 'rx_packets')
               : $scen eq 'tap-rx' ? 'rx_packets' : 'tx_packets';
        $c->{packets_counted} = $pk;
        $c->{packets} = $d->{$pk};
        $c->{pps} = $c->{window_s} ? $c->{packets} / $c->{window_s} : 0;
        $c->{pps_per_cpu_s} = $c->{backend_cpu_s} ? $c->{packets} / $c->{backend_cpu_s} : undef;
        $c->{kicks_per_packet} = $c->{packets} ? $d->{kicks} / $c->{packets} : undef;
        $c->{notifies_per_packet} = $c->{packets} ? $d->{notifies} / $c->{packets} : undef;
        $c->{backend_drops} = $d->{tx_drops} + $d->{rx_drops};
        if (my $k = core_delta($path)) {
            $c->{"core_$_"} = $k->{$_} for keys %$k;
            my $m = core_metrics($k, $c->{packets});
            $c->{$_} = $m->{$_} for keys %$m;
        }
    }
    if (my $l = link_delta($path)) {
        $c->{"host_$_"} = $l->{$_} for keys %$l;
        $c->{host_pps} = $c->{window_s} ? ($scen eq 'tap-tx' ? $l->{rx_packets} : $l->{tx_packets}) / $c->{window_s} : 0;
    }
    # the guests' own account, whole run
    if ($scen eq 'switch') {
        my ($sent, $lost, @per) = (0, 0);
        for my $r (grep { $_->[1] eq 'gen' } @roles) {
            my ($g, $s) = ($guest{ $r->[0] }, $guest{ $r->[2] });
            my $tx = $g ? $g->{sent} : 0;
            my $rx = $s ? $s->{peer_messages} : 0;
            $sent += $tx;
            $lost += $tx > $rx ? $tx - $rx : 0 if $be ne 'floor';
            push @per, $be eq 'floor' ? $tx : $rx;
        }
        $c->{guest_sent} = $sent;
        $c->{guest_lost} = $be eq 'floor' ? undef : $lost;
        $c->{guest_loss_pct} = $be ne 'floor' && $sent ? 100 * $lost / $sent : undef;
        $c->{jain} = jain(@per);
        $c->{per_pair} = \@per;
    } elsif ($scen =~ /^tap-/) {
        my ($g) = values %guest;
        $c->{guest_sent} = $g ? $g->{sent} : 0;
        $c->{guest_received} = $g ? $g->{other} + $g->{received} : 0;
    } elsif ($scen eq 'tcp') {
        my $ip = slurp_json("$path/iperf.json");
        my $e = $ip && $ip->{end} ? $ip->{end} : {};
        $c->{gbit_per_s} = ($e->{sum_received}{bits_per_second} // 0) / 1e9;
        $c->{retransmits} = $e->{sum_sent}{retransmits};
        $c->{iperf_seconds} = $e->{sum_received}{seconds};
        $c->{iperf_error} = $ip->{error} if $ip && $ip->{error};
        $c->{gbit_per_cpu_s} = $c->{backend_cpu_s} ? $c->{gbit_per_s} * $c->{window_s} / $c->{backend_cpu_s} : undef;
    }
    return $c;
});

# ---- aggregates: (scenario, size, guests, backend), pooled over rounds ----
my %agg;
push @{ $agg{ $_->{scenario} }{ $_->{size} }{ $_->{guests} }{ $_->{backend} } }, $_ for @cells;
my %res;
for my $scen (keys %agg) {
    for my $size (keys %{ $agg{$scen} }) {
        for my $n (keys %{ $agg{$scen}{$size} }) {
            for my $be (keys %{ $agg{$scen}{$size}{$n} }) {
                my $cs = $agg{$scen}{$size}{$n}{$be};
                my $win = sum(map { $_->{window_s} // 0 } @$cs);
                my $cpu = sum(map { $_->{backend_cpu_s} // 0 } @$cs);
                my $pk = sum(map { $_->{packets} // 0 } @$cs);
                my %r = (rounds => scalar @$cs, window_s => $win / @$cs);
                if (grep { defined $_->{packets} } @$cs) {
                    $r{packets} = $pk;
                    $r{pps} = $win ? $pk / $win : 0;
                    $r{backend_cpu_pct} = $win ? 100 * $cpu / $win : 0;
                    $r{pps_per_cpu_s} = $cpu ? $pk / $cpu : undef;
                    $r{kicks_per_packet} = $pk ? sum(map { $_->{backend_kicks} // 0 } @$cs) / $pk : undef;
                    $r{notifies_per_packet} = $pk ? sum(map { $_->{backend_notifies} // 0 } @$cs) / $pk : undef;
                    $r{backend_drops} = sum(map { $_->{backend_drops} // 0 } @$cs);
                }
                my @cd = grep { defined $_->{core_busy_ns} && $_->{packets} } @$cs;
                if (@cd) {
                    my %t = map { my $k = $_; ($k => sum(map { $_->{"core_$k"} } @cd)) }
                        qw(busy_ns idle_ns sleep_ns rounds busy_rounds thread_ns);
                    my $m = core_metrics(\%t, sum(map { $_->{packets} } @cd));
                    $r{$_} = $m->{$_} for keys %$m;
                }
                $r{backend_cpu_ns_per_packet} = $r{pps_per_cpu_s} ? 1e9 / $r{pps_per_cpu_s} : undef;
                for my $k (qw(guest_loss_pct jain host_pps gbit_per_s gbit_per_cpu_s retransmits)) {
                    my @v = grep { defined } map { $_->{$k} } @$cs;
                    $r{$k} = mean(@v) if @v;
                }
                $r{host_tx_dropped} = sum(map { $_->{host_tx_dropped} // 0 } @$cs) if $scen eq 'tap-rx';
                $r{host_offered_pps} = mean(map { $_->{host_sent_pps} // 0 } @$cs) if $scen eq 'tap-rx';
                $r{failed_guests} = sum(map { ($_->{failed_guests} // 0) + ($_->{guests_failed_result} // 0) } @$cs);
                $r{backend_died} = scalar grep { !$_->{backend_alive} } @$cs;
                $res{$scen}{$size}{$n}{$be} = \%r;
            }
        }
    }
}

# ---- tables ----
sub ratio {
    my ($a, $b) = @_;
    return undef unless defined $a && defined $b && $a > 0 && $b > 0;
    return $a / $b;
}
sub fr { my ($v) = @_; return defined $v ? sprintf('%.2f', $v) : '-'; }
sub row { print '| ', join(' | ', map { $_ // '-' } @_), " |\n"; }
sub head { row(@_); print '|', join('|', map { $_ =~ /^(size|guests|backend|path|direction|figure|measured|goal|met)$/ ? '---' : '---:' } @_), "|\n"; }
sub by_num { sort { $a <=> $b } @_ }
sub backends_of { my ($h) = @_; return grep { exists $h->{$_} } @BACKENDS; }

my $status = 0;
my %goals;
print "\nLoad average (1, 5, 15 min) at the start / end of the run: $o{load}\n\n";
if (my $sw = $res{switch}) {
    printf "## Guest -> guest through the switch: pairs gen -> sink, %s s per cell%s, nice %s\n\n",
        $o{seconds}, $o{pin} eq 'yes' ? ', backend pinned to its own CPU' : '', $o{nice};
    head('size', 'guests', 'backend', 'pps', 'pps / backend CPU-s', 'backend CPU %',
         'busy ns / pkt', 'core sleep %', 'kicks / pkt', 'notifies / pkt', 'backend drops',
         'guest loss %', 'Jain');
    for my $size (by_num(keys %$sw)) {
        for my $n (by_num(keys %{ $sw->{$size} })) {
            my $r = $sw->{$size}{$n};
            for my $be (backends_of($r)) {
                my $x = $r->{$be};
                row($size, $n, $be eq 'floor' ? 'floor (tx only)' : $be, fmt_num($x->{pps}, 0),
                    fmt_num($x->{pps_per_cpu_s}, 0), fmt_num($x->{backend_cpu_pct}, 0),
                    fmt_num($x->{core_busy_ns_per_packet}, 0), fmt_num($x->{core_sleep_pct}, 0),
                    fmt_num($x->{kicks_per_packet}, 4), fmt_num($x->{notifies_per_packet}, 4),
                    fmt_num($x->{backend_drops}, 0), fmt_num($x->{guest_loss_pct}, 2),
                    fmt_num($x->{jain}, 3));
            }
        }
    }
    print "\n";
    head('size', 'guests', 'pps sidecore/event', 'pps per CPU-s sidecore/event',
         'busy ns / pkt event/sidecore', 'pps per CPU-s sidecore/floor');
    for my $size (by_num(keys %$sw)) {
        for my $n (by_num(keys %{ $sw->{$size} })) {
            my $r = $sw->{$size}{$n};
            my ($s, $e, $f) = map { $r->{$_} } qw(sidecore event floor);
            my $pe = ratio($s && $s->{pps_per_cpu_s}, $e && $e->{pps_per_cpu_s});
            row($size, $n, fr(ratio($s && $s->{pps}, $e && $e->{pps})), fr($pe),
                fr(ratio($e && $e->{core_busy_ns_per_packet}, $s && $s->{core_busy_ns_per_packet})),
                fr(ratio($s && $s->{pps_per_cpu_s}, $f && $f->{pps_per_cpu_s})));
            $goals{g2g_64}{$n} = $pe if $size == 64 && defined $pe;
        }
    }
    print "\n";
}
if (grep { $res{$_} } qw(tap-tx tap-rx)) {
    print "## Guest <-> host through a TAP vif (one guest)\n\n";
    head('direction', 'size', 'backend', 'pps', 'host pps', 'pps / backend CPU-s', 'backend CPU %',
         'busy ns / pkt', 'core sleep %', 'kicks / pkt', 'notifies / pkt', 'backend drops',
         'TAP dropped');
    for my $scen (qw(tap-tx tap-rx)) {
        my $t = $res{$scen} or next;
        for my $size (by_num(keys %$t)) {
            my $r = $t->{$size}{1};
            for my $be (backends_of($r)) {
                my $x = $r->{$be};
                row($scen eq 'tap-tx' ? 'guest -> host' : 'host -> guest', $size,
                    $be eq 'floor' ? 'floor (tx only)' : $be, fmt_num($x->{pps}, 0),
                    $scen eq 'tap-rx' ? fmt_num($x->{host_offered_pps}, 0) . ' offered'
                                      : fmt_num($x->{host_pps}, 0),
                    fmt_num($x->{pps_per_cpu_s}, 0), fmt_num($x->{backend_cpu_pct}, 0),
                    fmt_num($x->{core_busy_ns_per_packet}, 0), fmt_num($x->{core_sleep_pct}, 0),
                    fmt_num($x->{kicks_per_packet}, 4), fmt_num($x->{notifies_per_packet}, 4),
                    fmt_num($x->{backend_drops}, 0), fmt_num($x->{host_tx_dropped}, 0));
            }
        }
    }
    print "\n";
    head('direction', 'size', 'pps sidecore/event', 'pps per CPU-s sidecore/event',
         'pps per CPU-s sidecore/floor');
    for my $scen (qw(tap-tx tap-rx)) {
        my $t = $res{$scen} or next;
        for my $size (by_num(keys %$t)) {
            my $r = $t->{$size}{1};
            my ($s, $e, $f) = map { $r->{$_} } qw(sidecore event floor);
            row($scen eq 'tap-tx' ? 'guest -> host' : 'host -> guest', $size,
                fr(ratio($s && $s->{pps}, $e && $e->{pps})),
                fr(ratio($s && $s->{pps_per_cpu_s}, $e && $e->{pps_per_cpu_s})),
                fr(ratio($s && $s->{pps_per_cpu_s}, $f && $f->{pps_per_cpu_s})));
        }
    }
    print "\n";
}
if (my $t = $res{tcp}) {
    my $r = $t->{0}{2} // {};
    printf "## TCP, iperf3 -c for %s s: guest -> guest through the switch vs a veth pair\n\n",
        $o{'tcp-seconds'};
    head('path', 'Gbit/s', 'retransmits', 'backend CPU %', 'Gbit per backend CPU-s',
         'frames/s (GSO)', 'kicks / frame', 'notifies / frame', '/ veth', '/ veth-cpu0');
    for my $be (backends_of($r)) {
        my $x = $r->{$be};
        my $path = $be eq 'veth' ? 'veth pair (unpinned)'
                 : $be eq 'veth-cpu0' ? 'veth pair (on the guests\' CPU)' : "switch, $be";
        row($path, fmt_num($x->{gbit_per_s}, 2), fmt_num($x->{retransmits}, 0),
            fmt_num($x->{backend_cpu_pct}, 0), fmt_num($x->{gbit_per_cpu_s}, 2),
            fmt_num($x->{pps}, 0), fmt_num($x->{kicks_per_packet}, 4),
            fmt_num($x->{notifies_per_packet}, 4),
            fr(ratio($x->{gbit_per_s}, $r->{veth} && $r->{veth}{gbit_per_s})),
            fr(ratio($x->{gbit_per_s}, $r->{'veth-cpu0'} && $r->{'veth-cpu0'}{gbit_per_s})));
        $goals{tcp}{$be} = ratio($x->{gbit_per_s}, $r->{veth} && $r->{veth}{gbit_per_s})
            if $be =~ /^(sidecore|event)$/;
    }
    print "\n";
}

my @goal_list;
if ($goals{g2g_64}) {
    my @n = by_num(keys %{ $goals{g2g_64} });
    my @v = map { $goals{g2g_64}{$_} } @n;
    push @goal_list, { name => '64 B guest<->guest packets per backend CPU-second, sidecore / event',
                       by_guests => { map { $_ => $goals{g2g_64}{$_} } @n },
                       value => median(@v), goal => 2,
                       met => (grep { $_ < 2 } @v) ? JSON::PP::false : JSON::PP::true };
}
if ($goals{tcp} && defined $goals{tcp}{sidecore}) {
    push @goal_list, { name => 'TCP guest<->guest through the switch / veth pair (sidecore)',
                       value => $goals{tcp}{sidecore}, goal => 0.8,
                       event_mode => $goals{tcp}{event},
                       met => $goals{tcp}{sidecore} >= 0.8 ? JSON::PP::true : JSON::PP::false };
}
if (@goal_list) {
    print "## Goals\n\n";
    head('figure', 'measured', 'goal', 'met');
    for my $g (@goal_list) {
        my $m = $g->{by_guests}
            ? join(', ', map { sprintf('%.2f (%d guests)', $g->{by_guests}{$_}, $_) } by_num(keys %{ $g->{by_guests} }))
            : sprintf('%.2f', $g->{value});
        $m .= sprintf('; event mode %.2f', $g->{event_mode}) if defined $g->{event_mode};
        row($g->{name}, $m, ">= $g->{goal}", $g->{met} ? 'yes' : 'no');
    }
    print "\n";
}

for my $c (@cells) {
    my @why;
    push @why, 'the backend died' unless $c->{backend_alive};
    push @why, "$c->{failed_guests} guest(s) failed" if $c->{failed_guests};
    push @why, "$c->{guests_failed_result} guest(s) reported a failure" if $c->{guests_failed_result};
    push @why, 'nothing moved' if $c->{scenario} ne 'tcp' && !$c->{packets};
    push @why, "$c->{vifs_gone_in_window} vif(s) not Connected at the window's end (figures low)"
        if $c->{vifs_gone_in_window};
    push @why, 'no TCP throughput' . ($c->{iperf_error} ? ": $c->{iperf_error}" : '')
        if $c->{scenario} eq 'tcp' && !$c->{gbit_per_s};
    next unless @why;
    printf "WARNING: %s: %s\n", $c->{name}, join(', ', @why);
    $status = 1;
}

if ($o{json}) {
    my $out = {
        params => { seconds => $o{seconds} + 0, tcp_seconds => $o{'tcp-seconds'} + 0,
                    backend_nice => $o{nice} =~ /^-?\d+$/ ? $o{nice} + 0 : undef,
                    load_average => $o{load},
                    backend_pinned => $o{pin} eq 'yes' ? JSON::PP::true : JSON::PP::false },
        results => \%res,
        goals => \@goal_list,
        cells => \@cells,
    };
    write_json('netbench-report', $o{json}, $out);
}
exit $status;
