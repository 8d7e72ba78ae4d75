"""Entry point of the ``jobmatch`` console script."""

from __future__ import annotations

from service.cli_app import app
from service.commands import (  # noqa: F401  (imported to register commands)
    importing,
    match,
    occupation,
    recommend,
    serve,
    synth,
    train,
)

__all__ = ["app"]

if __name__ == "__main__":
    app()
