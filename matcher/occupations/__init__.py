"""Occupation coding: free text -> CSCO 2022 code (rules and the learned classifier)."""
