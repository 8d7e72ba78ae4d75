"""Settings read from the environment once, validated at start-up (fail fast).

| variable | meaning | default |
| --- | --- | --- |
| ``JOBMATCH_DATABASE_URL`` | SQLAlchemy URL of the store | ``sqlite:///var/jobmatch.db`` |
| ``JOBMATCH_MODEL_DIR`` | folder of trained models (``current`` names the promoted one) | ``./models`` |
| ``JOBMATCH_EMBEDDING_MODEL`` | local sentence-transformers model folder | the packaged all-MiniLM-L6-v2 |
| ``JOBMATCH_DASK_SCHEDULER`` | ``tcp://HOST:PORT`` of a Dask scheduler for the nightly run | in-process |
| ``JOBMATCH_PRECOMPUTED`` | answer from precomputed recommendations when the model has them (``0`` answers everything live) | ``1`` |
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="JOBMATCH_", extra="ignore")

    database_url: str = "sqlite:///var/jobmatch.db"
    model_dir: Path = Path("models")
    embedding_model: str | None = None
    dask_scheduler: str | None = None
    precomputed: bool = True

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
