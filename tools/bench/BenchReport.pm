package BenchReport;
# BenchReport.pm - what idlebench-report.pl and blkbench-report.pl share:
# their command line, the walk over a cells directory (one directory per
# cell, each with a meta.json written by its bench script), the two
# snapshots of the backend's sidecores benchlib.sh's bl_sample leaves in a
# cell (s0/s1: .cores.json, .threads, .t), number formatting and the JSON
# output.  Only core Perl modules (JSON::PP); a script loads it with
#   use FindBin; use lib $FindBin::RealBin; use BenchReport qw(...);
use strict;
use warnings;
use Exporter 'import';
use Getopt::Long;
use JSON::PP;

our @EXPORT_OK = qw(parse_args slurp slurp_json snapshots thread_ns read_cells
                    sum mean median fmt_num write_json);

# parse_args(PROG, \%o): every key of %o is an option taking a value
# (--KEY VALUE, its default the key's value); returns the one argument
# left, the cells directory.  Dies with the usage otherwise.
sub parse_args {
    my ($prog, $o) = @_;
    my $usage = "usage: $prog.pl [--json FILE] CELLS_DIR\n";
    GetOptions($o, map { "$_=s" } keys %$o) or die $usage;
    my $dir = shift @ARGV or die $usage;
    return $dir;
}

# A whole file, or undef if it cannot be read.
sub slurp {
    my ($path) = @_;
    open(my $f, '<', $path) or return undef;
    local $/;
    my $text = <$f>;
    close $f;
    return $text;
}

# A JSON file decoded; undef if missing, empty or not JSON.
sub slurp_json {
    my $text = slurp(@_);
    return undef unless defined $text && $text =~ /\S/;
    return eval { JSON::PP->new->decode($text) };
}

# The cores of the two snapshots of CELL (a cell's directory), as
# `sidecorectl cores --json` gave them: (s0, s1), each undef if missing.
sub snapshots {
    my ($cell) = @_;
    return map { slurp_json("$cell/$_.cores.json") } qw(s0 s1);
}

# On-CPU ns (schedstat) the core threads of CELL spent between its two
# snapshots, summed over the threads found in both (matched by tid); 0
# without snapshots.
sub thread_ns {
    my ($cell) = @_;
    my ($t0, $t1) = map {
        my %t;
        for (split /\n/, slurp("$cell/$_.threads") // '') {
            my ($tid, $comm, $ns) = split;
            $t{$tid} = $ns if defined $ns;
        }
        \%t;
    } qw(s0 s1);
    return sum(map { $t1->{$_} - $t0->{$_} } grep { exists $t1->{$_} } keys %$t0);
}

# read_cells(PROG, DIR, CELL_OF): CELL_OF->(NAME, PATH, META) for every cell
# directory of DIR with a meta.json (META, decoded), in name order; returns
# the cells it gave (undef: none).  Dies if DIR cannot be read or gave none.
sub read_cells {
    my ($prog, $dir, $cell_of) = @_;
    my @cells;
    opendir(my $dh, $dir) or die "$prog: $dir: $!\n";
    for my $name (sort readdir $dh) {
        next if $name =~ /^\./;
        my $meta = slurp_json("$dir/$name/meta.json") or next;
        my $c = $cell_of->($name, "$dir/$name", $meta);
        push @cells, $c if $c;
    }
    closedir $dh;
    die "$prog: no cell in $dir\n" unless @cells;
    return @cells;
}

sub sum { my $s = 0; $s += $_ for @_; return $s; }
sub mean { return @_ ? sum(@_) / @_ : 0; }
sub median {
    my @s = sort { $a <=> $b } @_;
    return 0 unless @s;
    return @s % 2 ? $s[$#s / 2] : ($s[@s / 2 - 1] + $s[@s / 2]) / 2;
}

# V with DEC decimals and thousands separators; '-' for undef.
sub fmt_num {
    my ($v, $dec) = @_;
    return '-' unless defined $v;
    my $s = sprintf("%.${dec}f", $v);
    1 while $s =~ s/^(-?\d+)(\d{3})/$1,$2/;
    return $s;
}

# OUT as pretty, key-sorted JSON in FILE, and a line saying so.
sub write_json {
    my ($prog, $file, $out) = @_;
    open(my $f, '>', $file) or die "$prog: $file: $!\n";
    print $f JSON::PP->new->canonical->pretty->encode($out);
    close $f;
    print "JSON written to $file\n";
}

1;
