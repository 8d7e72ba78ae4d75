"""Eligibility: the hard rules with reasons that every path uses."""
