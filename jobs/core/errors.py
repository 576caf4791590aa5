"""One exception hierarchy for the daemon; I/O errors are wrapped into it at the boundary."""

from __future__ import annotations


class PaperboyError(Exception):
    """Base of every error Paperboy raises on purpose."""


class ConfigError(PaperboyError):
    """config.toml is missing, unreadable or invalid. The CLI exits with status 2."""


class InputFileError(PaperboyError):
    """A file named on the command line (a papers file, a BibTeX library, a saved response)
    is unreadable or malformed; the message names the file and, where there is one, the
    line. A usage error: the CLI exits with status 2, whatever the file's format."""


class SourceError(PaperboyError):
    """A source could not be fetched or its response could not be parsed."""


class ParseError(SourceError):
    """A response arrived but is not what the source promises (malformed XML, HTML page...)."""


class StorageError(PaperboyError):
    """The database could not be opened or written."""


class UnknownPaperError(PaperboyError):
    """An id that is not a valid arXiv id, or that arXiv does not know."""
