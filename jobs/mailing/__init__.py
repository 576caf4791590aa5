"""The daily mailing: who is due (pure), compose the digest, claim and record it exactly once,
send it and retry (delivery at least once at the SMTP boundary)."""
