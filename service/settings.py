"""Settings read from the environment once, validated at start-up (fail fast).

| variable | meaning | default |
| --- | --- | --- |
| ``JOBMATCH_DATABASE_URL`` | SQLAlchemy URL of the store | ``sqlite:///var/jobmatch.db`` |
| ``JOBMATCH_MODEL_DIR`` | folder of trained models (``current`` names the promoted one) | ``./models`` |
| ``JOBMATCH_EMBEDDING_MODEL`` | local sentence-transformers model folder (the dense text channel) | the package-shipped multilingual Universal Sentence Encoder (reads Chinese) |
| ``JOBMATCH_DASK_SCHEDULER`` | ``tcp://HOST:PORT`` of a Dask scheduler for the nightly run | in-process |
| ``JOBMATCH_PRECOMPUTED`` | answer from precomputed recommendations when the model has them (``0`` answers everything live) | ``1`` |
| ``JOBMATCH_FOLLOWUP_DAYS`` | days after a hire at which the officers follow the worker up (JSON list) | ``[7, 30, 90, 180]`` |
| ``JOBMATCH_OFFICE_TIMEZONE`` | IANA time zone of the offices: "today" and dates typed without a time | ``Asia/Shanghai`` |
| ``JOBMATCH_AUTH_FAILURE_LIMIT`` | failed authentications one client address may make per window before it is refused (429); ``0`` switches the limit off | ``20`` |
| ``JOBMATCH_AUTH_FAILURE_WINDOW`` | that window, in seconds | ``60`` |
| ``JOBMATCH_EMPLOYER_RISK_THRESHOLD`` | wage-arrears plus no-contract findings at one employer (within a year) that flag it for the labour inspectorate | ``3`` |
| ``JOBMATCH_BLAS_THREADS`` | BLAS threads per server process (``0``: the library's own choice, one per core); the engine's products are small, and with several processes on few cores a second thread costs CPU without shortening a request | ``1`` |
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="JOBMATCH_", extra="ignore")

    database_url: str = "sqlite:///var/jobmatch.db"
    model_dir: Path = Path("models")
    embedding_model: str | None = None
    dask_scheduler: str | None = None
    precomputed: bool = True
    followup_days: tuple[int, ...] = (7, 30, 90, 180)
    office_timezone: str = "Asia/Shanghai"
    employer_risk_threshold: int = 3
    auth_failure_limit: int = Field(default=20, ge=0)
    auth_failure_window: float = Field(default=60.0, gt=0, le=86_400)
    blas_threads: int = Field(default=1, ge=0, le=256)

    @field_validator("followup_days")
    @classmethod
    def _followup_days(cls, v: tuple[int, ...]) -> tuple[int, ...]:
        if not v or any(d < 1 or d > 3660 for d in v) or len(set(v)) != len(v):
            raise ValueError(
                "JOBMATCH_FOLLOWUP_DAYS must be distinct whole days between 1 and 3660, "
                "e.g. [7, 30, 90, 180]"
            )
        return tuple(sorted(v))

    @field_validator("office_timezone")
    @classmethod
    def _timezone(cls, v: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"JOBMATCH_OFFICE_TIMEZONE {v!r} is not an IANA time zone, e.g. Asia/Shanghai"
            ) from None
        return v

    @field_validator("employer_risk_threshold")
    @classmethod
    def _threshold(cls, v: int) -> int:
        if v < 1:
            raise ValueError("JOBMATCH_EMPLOYER_RISK_THRESHOLD must be at least 1")
        return v

    @field_validator("database_url")
    @classmethod
    def _known_driver(cls, v: str) -> str:
        if not v.startswith(("sqlite", "postgresql")):
            raise ValueError(
                f"JOBMATCH_DATABASE_URL must be a sqlite:// or postgresql:// URL, got {v.split(':')[0]}://…"
            )
        return v

    @field_validator("dask_scheduler")
    @classmethod
    def _scheduler(cls, v: str | None) -> str | None:
        if v and not v.startswith(("tcp://", "tls://", "inproc://")):
            raise ValueError("JOBMATCH_DASK_SCHEDULER must look like tcp://HOST:PORT")
        return v or None


@lru_cache
def get_settings() -> Settings:
    return Settings()
