"""Alembic migrations of Paperboy's database (run by Storage.open; see jobs.storage)."""
