"""The Recommender facade and its execution strategies (live, micro-batch, precomputed)."""
