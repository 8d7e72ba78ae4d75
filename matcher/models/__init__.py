"""The engine's parts: features, encoders, catalogue, candidate generator, pair scorer, ranker,
calibration, explanations and the typed config."""
