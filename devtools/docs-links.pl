#!/usr/bin/perl
# Part of make docs-check: every relative link in the given Markdown files
# must name a file that exists and, with #anchor, a heading of that file
# (the slugs GitHub gives headings). Prints each broken link.
#
#   perl devtools/docs-links.pl README.md docs/*.md
use strict; use warnings;
use File::Basename qw(dirname);
my %slugs; my $bad = 0;
sub slugs {
	my ($f) = @_;
	return $slugs{$f} if $slugs{$f};
	my %s; my $fence = 0;
	open(my $h, '<', $f) or return {};
	while (<$h>) {
		$fence = !$fence if /^```/;
		next if $fence || !/^#+\s+(.*?)\s*$/;
		my $t = lc $1;
		$t =~ s/[^\w\- ]//g;
		$t =~ s/ /-/g;
		my $n = $t; my $i = 0;
		$n = "$t-" . ++$i while $s{$n};
		$s{$n} = 1;
	}
	return $slugs{$f} = \%s;
}
for my $f (@ARGV) {
	open(my $h, '<', $f) or die "$f: $!";
	my $fence = 0;
	while (my $line = <$h>) {
		my $n = $.;    # slugs() reads other files, which resets $.
		$fence = !$fence if $line =~ /^```/;
		next if $fence;
		while ($line =~ /\]\(([^)\s]+)\)/g) {
			my $l = $1;
			next if $l =~ m{^[a-z]+:} ;
			my ($path, $anchor) = split /#/, $l, 2;
			my $target = $path eq '' ? $f : dirname($f) . "/$path";
			if (!-e $target) { print "$f:$n: $l: no such file\n"; $bad = 1; next }
			next unless defined $anchor && $target =~ /\.md$/;
			if (!slugs($target)->{$anchor}) { print "$f:$n: $l: no such heading\n"; $bad = 1 }
		}
	}
}
exit $bad;
