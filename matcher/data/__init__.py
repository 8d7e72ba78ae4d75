"""Data contract v1, the Dataset (ids mapped once) and reference data; the CSV tables beside them."""
