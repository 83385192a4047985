#!/usr/bin/perl
# plot.pl - PNG plots (gnuplot) of the JSON that make demo and make bench
# write, next to it.
#
#   tools/bench/plot.pl [--out PREFIX] [--note TEXT] FILE.json
#
# The kind of report is told by its shape; PREFIX (default: FILE without
# .json) names the plots:
#   demo      (tests/tools/demo.sh's demo.json: per-second samples)
#             PREFIX-throughput.png  each disk guest's IOPS over time, its
#             weight and limit in its legend, each limit a dashed line of its
#             guest's colour, the switch to phase 2 (balancer on) marked
#   blkbench  (blkbench.sh --json)
#             PREFIX-by-guests.png   IOPS and requests per backend CPU-s by
#             guest count, one line per backend (sidecore, event, floor)
#             PREFIX-latency-cdf.png one panel per guest count, a latency CDF
#             per backend (from blkguest's histograms; skipped for a report
#             without them)
#   netbench  (netbench.sh --json, its switch scenario)
#             PREFIX-by-guests.png   packets/s and packets per backend CPU-s
#             by guest count, one line per backend and frame size
#   rampbench (rampbench.sh --json)
#             PREFIX-timeline.png    per round, over the ramp: IOPS, active
#             sidecores and busy guests (weightbench, noisybench and
#             rebalbench keep no samples over time: no plot)
# --note TEXT: a second line under every plot's title (e.g. "short run on
# a shared machine, shape only" for docs/plots/).  Prints each plot's path.
# Exit 0 also when gnuplot is missing (a warning, no plot: plots must not
# break a demo or a benchmark); 1 when FILE is not such a report or gnuplot
# failed (its messages on stderr); 2 usage.
# Only core Perl modules (JSON::PP).
use strict;
use warnings;
use Getopt::Long;
use JSON::PP;
use POSIX qw(floor ceil);

my $PROG = 'plot';
my ($out, $note);
GetOptions('out=s' => \$out, 'note=s' => \$note) && @ARGV == 1
    or do { print STDERR "usage: plot.pl [--out PREFIX] [--note TEXT] FILE.json\n"; exit 2 };
my $file = $ARGV[0];
($out = $file) =~ s/\.json$// unless defined $out;

sub fail { print STDERR "$PROG: $file: $_[0]\n"; exit 1; }

open(my $fh, '<', $file) or fail("cannot read: $!");
my $text = do { local $/; <$fh> };
close $fh;
my $j = eval { JSON::PP->new->decode($text) };
fail("not JSON: " . ($@ =~ s/\s+at \S+ line \d+.*//sr)) unless defined $j;

my $gnuplot = (grep { -x "$_/gnuplot" } split /:/, $ENV{PATH} // '')[0];
unless ($gnuplot) {
    # checked after the JSON: a broken report is an error even without gnuplot
    print STDERR "$PROG: warning: gnuplot not found (Debian: gnuplot-nox): no plots of $file\n";
    exit 0;
}
$gnuplot .= '/gnuplot';
# noenhanced: titles and legends are taken as they are (no ^ _ { } markup)
my $term = `$gnuplot -e 'set terminal' 2>&1` =~ /\bpngcairo\b/
    ? 'pngcairo noenhanced font "sans,10"' : 'png noenhanced';

# ---- helpers ----
# a gnuplot string literal (single quotes: no escapes inside)
sub gq { my $s = shift; $s =~ s/'/''/g; return "'$s'"; }
# a datablock: NAME, rows (array refs of numbers)
sub block {
    my ($name, @rows) = @_;
    return "\$$name << EOD\n" . join('', map { join(' ', @$_) . "\n" } @rows) . "EOD\n";
}
# a plot's main title, with --note's text as a second line
sub mtitle {
    my ($t) = @_;
    return gq($t) unless defined $note;
    return gq($t) . ' . "\n" . ' . gq("($note)");
}
sub num { my ($v) = @_; return defined $v && !ref $v && $v =~ /^-?[\d.]+(?:e[-+]?\d+)?$/i; }
# the fixed colours of the backends, as in docs/benchmarks.md's tables
my %BE_COLOR = (sidecore => '#1f77b4', event => '#d62728', floor => '#7f7f7f');
my @BACKENDS = qw(sidecore event floor);

# run gnuplot on SCRIPT for PNG; dies (exit 1) if it failed or made nothing
sub plot {
    my ($png, $w, $h, $script) = @_;
    unlink $png;
    open(my $g, '|-', $gnuplot) or fail("cannot run gnuplot: $!");
    print $g "set terminal $term size $w,$h\nset output " . gq($png) . "\n$script\nunset output\n";
    close $g;
    fail("gnuplot failed on $png (exit " . ($? >> 8) . ")") if $? || !-s $png;
    print "plot: $png\n";
}

# ---- demo: per-guest IOPS over time ----
sub plot_demo {
    my @g = @{ $j->{guests} || [] };
    my @s = grep { ref $_ eq 'HASH' && num($_->{t_s}) } @{ $j->{samples} || [] };
    fail('demo report without guests or samples') unless @g && @s;
    my (@rows, @plots, @limits);
    for my $x (@s) {
        push @rows, [$x->{t_s}, map { my $v = $x->{iops}{ $_->{domid} }; num($v) ? $v : 'NaN' } @g];
    }
    my $tmax = $s[-1]{t_s};
    for my $i (0 .. $#g) {
        my $x = $g[$i];
        my $t = sprintf('guest %d (%s), weight %d%s', $x->{domid}, $x->{disk} // 'disk',
                        $x->{weight} // 0, $x->{limit_iops} ? ", limit $x->{limit_iops} IOPS" : '');
        push @plots, sprintf(q{$d using 1:%d with linespoints lw 1.5 lc %d pt 7 ps 0.6 title %s},
                             $i + 2, $i + 1, gq($t));
        push @limits, sprintf(q{%s with lines lc %d dt 2 lw 2 title %s}, $x->{limit_iops}, $i + 1,
                              gq("guest $x->{domid}'s limit"))
            if $x->{limit_iops};
    }
    my $script = block('d', @rows) . <<"EOS";
set title @{[mtitle($j->{title} // 'make demo: IOPS per disk guest, one sample a second')]}
set xlabel 'seconds from the start of the I/O'
set ylabel 'IOPS (sidecored''s count of its requests)'
set xrange [0:$tmax]
set yrange [0:*]
set format y '%.1s%c'
set key outside below horizontal maxrows 4 samplen 2
set grid
set style data lines
EOS
    if (num($j->{phase1_s}) && $j->{phase1_s} > 0 && $j->{phase1_s} < $tmax) {
        $script .= "set arrow from $j->{phase1_s}, graph 0 to $j->{phase1_s}, graph 1 nohead dt 3 lc rgb 'black'\n"
                 . "set label 'balancer on' at $j->{phase1_s}, graph 0.97 offset 0.5,0\n";
    }
    $script .= 'plot ' . join(", \\\n     ", @plots, @limits) . "\n";
    plot("$out-throughput.png", 1000, 560, $script);
}

# ---- blkbench: by guest count; latency CDFs ----
sub plot_blkbench {
    my $r = $j->{results};
    my @n = sort { $a <=> $b } grep { /^\d+$/ && ref $r->{$_} eq 'HASH' } keys %$r;
    fail('blkbench report without results') unless @n;
    my @be = grep { my $b = $_; grep { $r->{$_}{$b} } @n } @BACKENDS;
    fail('blkbench report without a known backend') unless @be;
    my $p = $j->{params} || {};
    my $what = sprintf('%s %s, qd %s, %s s', $p->{bs} // '?', $p->{rw} // '?', $p->{qd} // '?',
                       $p->{seconds} // '?');
    my $script = '';
    for my $b (@be) {
        $script .= block("$b", map { [$_, $r->{$_}{$b}{iops} // 'NaN',
                                      $r->{$_}{$b}{requests_per_cpu_s} // 'NaN'] }
                               grep { $r->{$_}{$b} } @n);
    }
    my $xt = join(', ', map { "'$_' $_" } @n);
    my $xr = sprintf('[%g:%g]', $n[0] / 1.5, $n[-1] * 1.5);
    my $lines = sub {
        my ($col) = @_;
        return join(', ', map { sprintf(q{$%s using 1:%d with linespoints lw 2 pt 7 lc rgb '%s' title '%s'},
                                        $_, $col, $BE_COLOR{$_}, $_) } @be);
    };
    $script .= <<"EOS";
set multiplot layout 1,2 title @{[mtitle("blkbench: sidecore vs event vs floor by guest count ($what)")]}
set logscale x 2
set xtics ($xt)
set xrange $xr
set xlabel 'guests'
set grid
set key top left
set yrange [0:*]
set format y '%.1s%c'
set title 'IOPS (sum of the guests)'
plot @{[$lines->(2)]}
set title 'requests per backend CPU-second'
plot @{[$lines->(3)]}
unset multiplot
EOS
    plot("$out-by-guests.png", 1100, 450, $script);

    my @hn = grep { my $k = $_; grep { $r->{$k}{$_} && $r->{$k}{$_}{latency_hist_us} } @be } @n;
    unless (@hn) {
        print STDERR "$PROG: $file: no latency histograms (a blkguest before them): no CDF\n";
        return;
    }
    $script = '';
    my ($xmin, $xmax) = (undef, 0);
    for my $k (@hn) {
        for my $b (@be) {
            my $h = $r->{$k}{$b} && $r->{$k}{$b}{latency_hist_us} or next;
            my @le = @{ $h->{le} || [] };
            my @c = @{ $h->{n} || [] };
            fail("latency_hist_us of $b, $k guests: le and n differ in length") if @le != @c;
            fail("latency_hist_us of $b, $k guests: a bound not above 0 or not rising")
                if grep { !num($le[$_]) || $le[$_] <= 0 || ($_ && $le[$_] <= $le[$_ - 1]) } 0 .. $#le;
            my $tot = 0;
            $tot += $_ for @c;
            next unless $tot;
            # from the first bucket's lower bound (a quarter octave below), at 0
            my @rows = ([$le[0] / 2**0.25, 0]);
            my $cum = 0;
            for my $i (0 .. $#le) {
                $cum += $c[$i];
                push @rows, [$le[$i], $cum / $tot];
            }
            $xmax = $le[-1] if $le[-1] > $xmax;
            $xmin = $rows[0][0] if !defined $xmin || $rows[0][0] < $xmin;
            $script .= block("h_${b}_$k", @rows);
        }
    }
    unless (defined $xmin) {
        print STDERR "$PROG: $file: latency histograms without a request: no CDF\n";
        return;
    }
    @hn = grep { my $k = $_; $script =~ /^\$h_\w+_$k << /m } @hn;
    my $cols = @hn;
    # whole decades around the data, labelled in us, ms and s
    my ($lo, $hi) = (10**floor(log($xmin) / log(10)), 10**ceil(log($xmax) / log(10)));
    my $ticks = join(', ', map { sprintf("'%s' %g", $_->[0], $_->[1]) }
                     grep { $_->[1] >= $lo / 1.01 && $_->[1] <= $hi * 1.01 }
                     (['0.1 us', 0.1], ['1 us', 1], ['10 us', 10], ['100 us', 100], ['1 ms', 1e3],
                      ['10 ms', 1e4], ['100 ms', 1e5], ['1 s', 1e6], ['10 s', 1e7], ['100 s', 1e8]));
    $script .= <<"EOS";
set multiplot layout 1,$cols title @{[mtitle("blkbench: latency CDF, every request of every guest ($what)")]}
set logscale x 10
set xrange [$lo:$hi]
set xtics ($ticks)
set xlabel 'latency (log scale)'
set ylabel 'fraction of requests'
set yrange [0:1]
set ytics 0.1
set grid
set key bottom right
EOS
    for my $k (@hn) {
        my @l = map { sprintf(q{$h_%s_%d using 1:2 with steps lw 2 lc rgb '%s' title '%s'},
                              $_, $k, $BE_COLOR{$_}, $_) }
                grep { $script =~ /^\$h_${_}_$k << /m } @be;
        $script .= sprintf("set title '%d guest%s'\nplot %s\n", $k, $k == 1 ? '' : 's',
                           join(', ', @l));
    }
    $script .= "unset multiplot\n";
    plot("$out-latency-cdf.png", 1200, 420, $script);
}

# ---- rampbench: the ramp of each round over time ----
sub plot_rampbench {
    my @r = grep { ref $_ eq 'HASH' && ref $_->{ramp} eq 'HASH' && ref $_->{ramp}{timeline} eq 'ARRAY'
                   && @{ $_->{ramp}{timeline} } } @{ $j->{rounds} };
    fail('rampbench report without a ramp timeline') unless @r;
    my $script = '';
    my ($ncores, $ymax) = (0, 1);
    for my $i (0 .. $#r) {
        my @rows;
        for my $x (@{ $r[$i]{ramp}{timeline} }) {
            next unless num($x->{t_s});
            my @b = @{ $x->{busy_pct} || [] };
            $ncores = @b if @b > $ncores;
            push @rows, [$x->{t_s}, map({ num($_) ? $_ : 'NaN' } $x->{iops}, $x->{active},
                                        $x->{busy_guests}), map { num($_) ? $_ : 'NaN' } @b];
            $ymax = $x->{busy_guests} if num($x->{busy_guests}) && $x->{busy_guests} > $ymax;
            $ymax = $x->{active} if num($x->{active}) && $x->{active} > $ymax;
        }
        fail("rampbench round @{[$i + 1]}: no sample with a time") unless @rows;
        $script .= block("r$i", @rows);
    }
    my $rows = @r;
    $script .= <<"EOS";
set multiplot layout $rows,1 title @{[mtitle('rampbench: busy guests added and removed one by one; sidecores added and parked')]}
set xlabel 'seconds from the start of the ramp'
set ylabel 'IOPS'
set y2label 'guests, active sidecores'
set yrange [0:*]
set format y '%.1s%c'
set y2range [0:@{[$ymax + 1]}]
set y2tics 1
set ytics nomirror
set grid
set key inside top right
EOS
    for my $i (0 .. $#r) {
        my @l = (sprintf(q{$r%d using 1:2 with lines lw 2 lc rgb '#1f77b4' title 'IOPS'}, $i),
                 sprintf(q{$r%d using 1:3 axes x1y2 with steps lw 2 lc rgb '#d62728' title 'active sidecores'}, $i),
                 sprintf(q{$r%d using 1:4 axes x1y2 with steps lw 1 dt 2 lc rgb 'black' title 'busy guests'}, $i));
        $script .= sprintf("set title 'round %d'\nplot %s\n", $i + 1, join(', ', @l));
    }
    $script .= "unset multiplot\n";
    plot("$out-timeline.png", 1000, 120 + 330 * $rows, $script);
}

# ---- netbench: the switch scenario by guest count ----
sub plot_netbench {
    my $sw = $j->{results}{switch};
    fail('netbench report without the switch scenario: nothing to plot')
        unless ref $sw eq 'HASH' && %$sw;
    my @sizes = sort { $a <=> $b } keys %$sw;
    my (@lines1, @lines2, %xs);
    my $script = '';
    my %dash;
    @dash{@sizes} = (1 .. @sizes);
    for my $size (@sizes) {
        my @n = sort { $a <=> $b } keys %{ $sw->{$size} };
        $xs{$_} = 1 for @n;
        for my $b (@BACKENDS) {
            my @rows = map { [$_, $sw->{$size}{$_}{$b}{pps} // 'NaN',
                              $sw->{$size}{$_}{$b}{pps_per_cpu_s} // 'NaN'] }
                       grep { $sw->{$size}{$_}{$b} } @n;
            next unless @rows;
            $script .= block("${b}_$size", @rows);
            my $t = ($b eq 'floor' ? 'floor (tx only)' : $b) . ", $size B";
            for ([\@lines1, 2], [\@lines2, 3]) {
                push @{ $_->[0] }, sprintf(q{$%s_%d using 1:%d with linespoints lw 2 pt 7 dt %d lc rgb '%s' title %s},
                                           $b, $size, $_->[1], $dash{$size}, $BE_COLOR{$b}, gq($t));
            }
        }
    }
    fail('netbench report: no known backend in the switch scenario') unless @lines1;
    my @xs = sort { $a <=> $b } keys %xs;
    my $xt = join(', ', map { "'$_' $_" } @xs);
    my $xr = sprintf('[%g:%g]', $xs[0] / 1.5, $xs[-1] * 1.5);
    my $p = $j->{params} || {};
    $script .= <<"EOS";
set multiplot layout 1,2 title @{[mtitle(sprintf('netbench: guest -> guest through the switch by guest count (%s s per cell)', $p->{seconds} // '?'))]}
set logscale x 2
set xtics ($xt)
set xrange $xr
set xlabel 'guests (pairs gen -> sink)'
set grid
set key top left
set yrange [0:*]
set format y '%.1s%c'
set title 'packets per second'
plot @{[join(', ', @lines1)]}
set title 'packets per backend CPU-second'
plot @{[join(', ', @lines2)]}
unset multiplot
EOS
    plot("$out-by-guests.png", 1100, 450, $script);
}

if (ref $j eq 'HASH' && ref $j->{samples} eq 'ARRAY') {
    plot_demo();
} elsif (ref $j eq 'HASH' && ref $j->{results} eq 'HASH' && (exists $j->{results}{switch} || exists($j->{params}{tcp_seconds}))) {
    plot_netbench();
} elsif (ref $j eq 'HASH' && ref $j->{results} eq 'HASH' && ($j->{latency_note} // '') ne '') {
    plot_blkbench();
} elsif (ref $j eq 'HASH' && ref $j->{rounds} eq 'ARRAY' && grep { ref $_ eq 'HASH' && $_->{ramp} } @{ $j->{rounds} }) {
    plot_rampbench();
} else {
    fail('neither a demo, a blkbench, a netbench nor a rampbench report');
}
exit 0;
