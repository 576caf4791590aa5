"""Stored papers to ranked lists: a user's candidates and profile, the stored index, sentence
vectors, ranking many users at once, the digest's picks (pure), the offline evaluation."""
