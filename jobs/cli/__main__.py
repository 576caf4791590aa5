"""`python -m paperboy.jobs.cli`: the `paperboy` command, through the console script's own
entry point (jobs.entry; benchmarks/startup.py runs it so)."""

from paperboy.jobs.entry import main

main()
