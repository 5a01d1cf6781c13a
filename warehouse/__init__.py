"""The DuckDB warehouse: SQL models in layers, the runner that builds them, write–audit–publish."""
