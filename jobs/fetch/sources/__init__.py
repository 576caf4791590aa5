"""The sources' parsers: bytes of one response in, records out; no I/O, no storage, no config.

One module per source: arxiv_rss.py (the daily listing), arxiv_api.py (look-ups by id),
huggingface.py (daily papers), feeds.py (any RSS/Atom feed), openreview.py (venues) and
zotero_api.py (a Zotero library); xmlfeed.py is the safe first step of every RSS/Atom
parser. They import only each other, jobs/core and paperboy.text; jobs/fetch/listings.py and
jobs/fetch/zotero_sync.py do the fetching and storing around them.
"""
