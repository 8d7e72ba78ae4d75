"""The ``jobmatch`` Typer application and its command groups.

Commands live in ``service/commands/<topic>.py`` and register themselves on these
objects; ``service/cli.py`` imports them all. Heavy imports stay inside command
bodies so that ``jobmatch --help`` answers at once.
"""

from __future__ import annotations

import typer

app = typer.Typer(
    name="jobmatch",
    help="Job matching for rural labour transfer: import data, train, recommend, plan, serve.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
models_app = typer.Typer(
    help="The model registry: list, show, promote, rollback.", no_args_is_help=True
)
keys_app = typer.Typer(help="API keys for officers, employers and admins.", no_args_is_help=True)
occupation_app = typer.Typer(help="CSCO 2022 occupation normalisation.", no_args_is_help=True)
app.add_typer(models_app, name="models")
app.add_typer(keys_app, name="keys")
app.add_typer(occupation_app, name="occupation")


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print an actionable error to stderr and return the Exit to raise."""
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(code)
