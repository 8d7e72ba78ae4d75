"""Fixtures of the service tests (defined in service_fixtures.py, shared with tests/browser)."""

from sample_fixtures import (  # noqa: F401  (fixtures)
    sample,
    sample_frames,
    sample_model_dir,
)
from service_fixtures import (  # noqa: F401  (fixtures)
    frames,
    no_model_service,
    service,
    sqlite_service,
    statements,
    trained_model_dir,
)
