"""Path and query parameters the API routes share, with the limits OpenAPI documents.

Every integer a client can send is bounded (a value beyond what the store's integer
columns hold would otherwise reach the database and fail there), and so is every
string: the record ids to the store's column width.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from matcher.data.contract import MAX_INT

#: Width of the store's id columns (workers, vacancies, employers, runs).
ID_LENGTH = 64

#: ``MAX_INT``: the largest integer the store's 32-bit columns hold.
Offset = Annotated[int, Query(ge=0, le=MAX_INT, description="rows to skip")]
WorkerIdPath = Annotated[str, Path(min_length=1, max_length=ID_LENGTH)]
VacancyIdPath = Annotated[str, Path(min_length=1, max_length=ID_LENGTH)]
EmployerIdPath = Annotated[str, Path(min_length=1, max_length=ID_LENGTH)]
RunIdPath = Annotated[str, Path(min_length=1, max_length=ID_LENGTH)]
RowIdPath = Annotated[int, Path(ge=1, le=MAX_INT)]
RecordIdQuery = Annotated[str | None, Query(min_length=1, max_length=ID_LENGTH)]
RowIdQuery = Annotated[int | None, Query(ge=1, le=MAX_INT)]
