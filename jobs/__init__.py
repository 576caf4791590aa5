"""The daemon (`paperboy.jobs`): config, storage, fetching, ranking, the feedback endpoint,
the mailing, what runs them, and the `paperboy` command.

Folders are layers; each imports only those below it (tests/test_structure.py checks):

    core < config < storage < fetch < ranking < web < mailing < runners < cli < entry.py

- core/: errors, ids, records, logging, progress, stopping; imports nothing else of jobs/.
- config/: config.toml and the users' lists, read, checked, edited; the schedule.
- storage/: all state, behind one class (SQLAlchemy Core), and its migrations.
- fetch/: papers in: HTTP, the sources' parsers, listings, venues, Zotero, BibTeX, files.
- ranking/: stored papers to ranked lists: the index, sentence vectors, ranking many users.
- web/: the feedback endpoint behind a digest's links.
- mailing/: the daily mailing: who is due, rank, render, record once, send and retry.
- runners/: the scheduler and its lock, the fetch job, the Celery queue, the demo.
- cli/: the click commands; entry.py is the console script (it imports only cli and core).
- data/: the bundled config.toml and the demo's sample papers (package data, no code).

Importing `paperboy.jobs` imports none of its folders.
"""
