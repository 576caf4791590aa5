"""`python -m paperboy.jobs.cli`: the `paperboy` command (benchmarks/startup.py runs it so)."""

from paperboy.jobs.cli import main

main()
