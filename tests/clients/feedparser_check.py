"""
Reads the Worker's feeds as real clients do and prints what they saw as JSON.

RSS and Atom are fetched and parsed by feedparser (Debian's python3-feedparser),
which also revalidates them with the ETag and Last-Modified it was given. The
JSON Feed is read with the json module: feedparser 6.0 has no JSON Feed support.

Usage: /usr/bin/python3 feedparser_check.py BASE_URL QUERY
"""
import html
import json
import sys
import urllib.request

import feedparser


def plain(detail):
    """A title as text: HTML titles (Atom type="html") are unescaped."""
    if detail is None:
        return None
    return html.unescape(detail.value) if detail.type == "text/html" else detail.value


def xml_feed(url):
    parsed = feedparser.parse(url)
    return {
        "bozo": int(parsed.bozo),
        "bozo_exception": repr(parsed.get("bozo_exception")),
        "status": parsed.get("status"),
        "version": parsed.version,
        "content_type": parsed.headers.get("content-type"),
        "title": parsed.feed.get("title"),
        "link": parsed.feed.get("link"),
        "language": parsed.feed.get("language"),
        "updated": parsed.feed.get("updated"),
        "self": [link.href for link in parsed.feed.get("links", []) if link.get("rel") == "self"],
        "entries": [
            {
                "id": entry.get("id"),
                "title": plain(entry.get("title_detail")),
                "title_type": entry.get("title_detail", {}).get("type"),
                "summary_type": entry.get("summary_detail", {}).get("type"),
                "link": entry.get("link"),
                "point": list(entry.where.coordinates) if "where" in entry else None,
            }
            for entry in parsed.entries
        ],
        "status_with_etag": feedparser.parse(url, etag=parsed.get("etag")).get("status"),
        "status_with_modified": feedparser.parse(url, modified=parsed.get("modified")).get("status"),
    }


def json_feed(url):
    with urllib.request.urlopen(url) as response:
        content_type = response.headers.get("content-type")
        document = json.loads(response.read().decode("utf-8"))
    return {
        "content_type": content_type,
        "version": document.get("version"),
        "feed_url": document.get("feed_url"),
        "link": document.get("home_page_url"),
        "entries": [
            {"id": item["id"], "title": item.get("title"), "link": item.get("url"), "point": item.get("_geo", {}).get("coordinates")}
            for item in document["items"]
        ],
    }


base, query = sys.argv[1], sys.argv[2]
print(json.dumps({
    "rss": xml_feed(f"{base}/feed.rss{query}"),
    "atom": xml_feed(f"{base}/feed.atom{query}"),
    "json": json_feed(f"{base}/feed.json{query}"),
}))
