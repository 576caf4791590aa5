"""The feedback endpoint behind a digest's links: `paperboy serve` (issue #14).

tokens.py  signed links (user, paper, action, expiry)
links.py   the links a digest carries (built by the digest job, passed to emails/ as strings)
app.py     the Starlette app: confirm pages, POST actions, the profile page
server.py  uvicorn, in the foreground (`paperboy serve`) or in a thread (`paperboy run`)
"""
