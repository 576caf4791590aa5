"""The ground floor of the daemon: errors, ids, records, logging, progress, stopping.

Imports nothing else of ``paperboy.jobs``; every other folder may import it.
"""
