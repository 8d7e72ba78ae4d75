"""Fixtures of the service tests (defined in service_fixtures.py, shared with tests/browser)."""

from service_fixtures import (  # noqa: F401  (fixtures)
    frames,
    no_model_service,
    service,
    sqlite_service,
    trained_model_dir,
)
