"""CLI command modules; each registers its commands on service.cli_app."""
