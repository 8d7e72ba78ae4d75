"""jobmatch CLI commands (see service/cli_app.py)."""
