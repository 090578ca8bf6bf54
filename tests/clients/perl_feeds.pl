#!/usr/bin/perl
# Reads strikewire's feeds with the Perl clients the issue names, for
# tests/clients/feed-clients.test.ts (Debian: libxml-feed-perl, libfeed-find-perl).
#   perl_feeds.pl titles URL    -> one line per entry: "<id>\t<title>" (XML::Feed)
#   perl_feeds.pl discover URL  -> one line per feed URL Feed::Find finds on the page
use strict;
use warnings;
use utf8;
use URI;
use XML::Feed;
use Feed::Find;
# XML::Atom hands back UTF-8 bytes unless told to decode them.
$XML::Atom::ForceUnicode = 1;
binmode STDOUT, ':encoding(UTF-8)';

my ($mode, $url) = @ARGV;
die "usage: perl_feeds.pl titles|discover URL\n" unless $mode && $url;
if ($mode eq 'titles') {
    my $feed = XML::Feed->parse(URI->new($url)) or die XML::Feed->errstr . "\n";
    print $_->id, "\t", $_->title, "\n" for $feed->entries;
} elsif ($mode eq 'discover') {
    print "$_\n" for Feed::Find->find($url);
} else {
    die "unknown mode $mode\n";
}
