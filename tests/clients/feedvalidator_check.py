"""
Validates a feed URL with the W3C feed validator (github.com/w3c/feedvalidator)
and prints what it found as JSON: a list of { level, type, text }, filtered as
the online validator does (compatibility level "AA": errors and warnings).

Usage: /usr/bin/python3 feedvalidator_check.py FEEDVALIDATOR_SRC URL
(FEEDVALIDATOR_SRC: the src folder of a checkout; needs html5lib, rdflib, lxml.)
"""
import json
import urllib.request  # noqa: F401  (feedvalidator uses it without importing it)
import sys

sys.path.insert(0, sys.argv[1])

import feedvalidator  # noqa: E402
from feedvalidator import compatibility  # noqa: E402
from feedvalidator.formatter.text_plain import Formatter  # noqa: E402
from feedvalidator.logging import Error  # noqa: E402

try:
    events = feedvalidator.validateURL(sys.argv[2], firstOccurrenceOnly=1)["loggedEvents"]
except feedvalidator.logging.ValidationFailure as failure:
    events = [failure.event]

events = compatibility.AA(events)
print(json.dumps([
    {"level": "error" if isinstance(event, Error) else "warning", "type": type(event).__name__, "text": text}
    for event, text in zip(events, Formatter(events))
]))
