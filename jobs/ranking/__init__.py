"""Stored papers to ranked lists: the stored index, sentence vectors, ranking many users."""
