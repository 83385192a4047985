#!/usr/bin/perl
# tcpxfer.pl - a verified TCP transfer for the network tests.
#
#   tcpxfer.pl recv PORT          listens on PORT (IPv4 any), takes one
#                                 connection, prints "<bytes> <sha256>"
#   tcpxfer.pl send HOST PORT FILE  connects (retrying for 5 s) and sends FILE
#
# Exit 0 on success; the receiver gives up after 60 s.
use strict;
use warnings;
use IO::Socket::INET;
use Digest::SHA;

my $mode = shift // '';
if ($mode eq 'recv') {
    my $port = shift or die "usage: tcpxfer.pl recv PORT\n";
    my $srv = IO::Socket::INET->new(LocalPort => $port, Listen => 1, ReuseAddr => 1,
                                    Proto => 'tcp') or die "listen $port: $!\n";
    alarm 60;
    my $c = $srv->accept or die "accept: $!\n";
    my $sha = Digest::SHA->new(256);
    my ($n, $buf) = (0, '');
    while (1) {
        my $r = sysread($c, $buf, 1 << 16);
        die "read: $!\n" unless defined $r;
        last if $r == 0;
        $sha->add($buf);
        $n += $r;
    }
    print "$n ", $sha->hexdigest, "\n";
    exit 0;
} elsif ($mode eq 'send') {
    my ($host, $port, $file) = @ARGV;
    die "usage: tcpxfer.pl send HOST PORT FILE\n" unless defined $file;
    my $s;
    for (1 .. 50) {
        $s = IO::Socket::INET->new(PeerAddr => $host, PeerPort => $port, Proto => 'tcp');
        last if $s;
        select(undef, undef, undef, 0.1);
    }
    die "connect $host:$port: $!\n" unless $s;
    open(my $f, '<:raw', $file) or die "$file: $!\n";
    my $buf;
    while (my $r = sysread($f, $buf, 1 << 16)) {
        my $off = 0;
        while ($off < $r) {
            my $w = syswrite($s, $buf, $r - $off, $off);
            die "write: $!\n" unless defined $w;
            $off += $w;
        }
    }
    close $s;
    exit 0;
}
die "usage: tcpxfer.pl recv PORT | send HOST PORT FILE\n";
