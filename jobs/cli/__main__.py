"""`python -m paperboy.jobs.cli`: the `paperboy` command group (the console script,
jobs.entry, adds its start-up handling: benchmarks/startup.py measures that one)."""

from paperboy.jobs.cli import main

main()
