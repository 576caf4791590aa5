"""Papers in: HTTP, the sources' parsers, listings, venues, Zotero sync, BibTeX and paper files."""
