"""The migration scripts, one per schema change, oldest first (0001 is the first release)."""
