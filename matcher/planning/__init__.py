"""The nightly placement plan on the candidate graph, and reserved seats."""
