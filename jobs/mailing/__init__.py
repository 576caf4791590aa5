"""The daily mailing: who is due, rank, render, record exactly once, send and retry."""
