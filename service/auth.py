"""API keys, the caller's identity (``Principal``) and the dependencies routes declare.

Keys
----
A key looks like ``jm_<prefix>_<secret>``: ``prefix`` (8 hex characters) finds the row,
``secret`` (32 random bytes, url-safe) makes it unguessable. The store keeps only the
SHA-256 of the whole key (a high-entropy secret needs no slow hash) and compares hashes
in constant time. A key is shown once, when it is created (``jobmatch keys create``).

Roles
-----
``admin``
    everything, including keys, employers and the model reload.
``officer``
    scoped to a region prefix (``5424`` = 那曲市): sees and edits the workers whose
    ``home_region`` starts with it; sees all vacancies; records outcomes for those workers.
``employer``
    scoped to one ``employer_id``: posts, updates and closes its own vacancies and sees
    their candidates without personal data.

Dependencies (FastAPI ``Annotated`` aliases)
--------------------------------------------
``SessionDep``            a SQLAlchemy session on the app's store, committed at the end of
                          the request (rolled back on error).
``CurrentPrincipal``      the caller of an API route (``Authorization: Bearer <key>``); 401
                          when the key is missing, unknown or revoked.
``require_roles(*roles)`` a dependency returning the principal, 403 for other roles, e.g.
                          ``Officer = Annotated[Principal, Depends(require_roles("admin", "officer"))]``.
``WebPrincipal``          the caller of a web page (the key kept in the ``jobmatch_key``
                          cookie), or ``None`` when not logged in.
``PurposeDep``            why personal data is read (``X-Purpose`` header or ``purpose`` query
                          parameter; ``None`` when not given, so the route's default applies).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Query, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from service import clock
from service.store.db import transaction
from service.store.models import ApiKey

#: Name of the cookie that holds the web interface's key.
KEY_COOKIE = "jobmatch_key"
#: How long a verified key is remembered in this process (seconds). Revoking a key in
#: another process (``jobmatch keys revoke``) takes effect within this time.
KEY_CACHE_SECONDS = 5.0

_KEY_RE = re.compile(r"^jm_([0-9a-f]{8})_([A-Za-z0-9_\-]{20,})$")
_REGION_PREFIX_RE = re.compile(r"^\d{2,6}$")


class Role(StrEnum):
    ADMIN = "admin"
    OFFICER = "officer"
    EMPLOYER = "employer"


@dataclass(frozen=True)
class Principal:
    """Who is calling: role, key id and scope (region prefix or employer id)."""

    role: Role
    key_id: int
    region_prefix: str | None = None
    employer_id: str | None = None
    name: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    def sees_region(self, region: str | None) -> bool:
        """True when a worker living in ``region`` is inside this principal's scope."""
        if self.role == Role.ADMIN:
            return True
        if self.role == Role.OFFICER and self.region_prefix:
            return bool(region) and str(region).startswith(self.region_prefix)
        return False

    def owns_employer(self, employer_id: str | None) -> bool:
        if self.role == Role.ADMIN:
            return True
        return self.role == Role.EMPLOYER and employer_id == self.employer_id

    @property
    def label(self) -> str:
        """Short text for pages and logs (never a secret)."""
        scope = self.region_prefix or self.employer_id or ""
        return f"{self.role.value}{':' + scope if scope else ''} (key {self.key_id})"


# --------------------------------------------------------------------------- keys


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class NewKey:
    """A freshly created key: ``key`` is the only time the secret exists in clear."""

    key: str
    row_id: int
    role: Role
    region_prefix: str | None
    employer_id: str | None
    name: str | None
    expires_at: datetime | None = None


def _naive_utc(value: datetime) -> datetime:
    return value if value.tzinfo is None else value.astimezone(UTC).replace(tzinfo=None)


def key_state(row: ApiKey, now: datetime | None = None) -> str:
    """``active``, ``revoked`` or ``expired``."""
    if row.revoked_at is not None:
        return "revoked"
    if row.expires_at is not None and row.expires_at <= (now or clock.now_utc()):
        return "expired"
    return "active"


def validate_scope(
    role: str, region_prefix: str | None, employer_id: str | None
) -> tuple[Role, str | None, str | None]:
    """Check a role and its scope; ``ValueError`` saying what to pass otherwise."""
    try:
        r = Role(role)
    except ValueError:
        raise ValueError(
            f"unknown role {role!r}: use one of {', '.join(x.value for x in Role)}"
        ) from None
    if r == Role.OFFICER:
        if not region_prefix or not _REGION_PREFIX_RE.match(region_prefix):
            raise ValueError(
                "an officer key needs --region with a region code prefix of 2 to 6 digits "
                "(e.g. 54 for Tibet, 5424 for Nagqu, 542427 for Suo County)"
            )
        if employer_id:
            raise ValueError("an officer key takes --region, not --employer")
        return r, region_prefix, None
    if r == Role.EMPLOYER:
        if not employer_id:
            raise ValueError("an employer key needs --employer EMPLOYER_ID (e.g. E0001)")
        if region_prefix:
            raise ValueError("an employer key takes --employer, not --region")
        return r, None, employer_id
    if region_prefix or employer_id:
        raise ValueError("an admin key has no scope: leave out --region and --employer")
    return r, None, None


def create_key(
    session: Session,
    role: str,
    *,
    region_prefix: str | None = None,
    employer_id: str | None = None,
    name: str | None = None,
    expires_at: datetime | None = None,
) -> NewKey:
    """Create and store (hashed) a new key; the clear key is returned once.

    ``expires_at`` (UTC) ends its validity; ``None``: valid until revoked."""
    r, region_prefix, employer_id = validate_scope(role, region_prefix, employer_id)
    if expires_at is not None:
        expires_at = _naive_utc(expires_at)
        if expires_at <= clock.now_utc():
            raise ValueError("the expiry must be in the future")
    prefix = secrets.token_hex(4)
    key = f"jm_{prefix}_{secrets.token_urlsafe(32)}"
    row = ApiKey(
        key_prefix=prefix,
        key_hash=hash_key(key),
        role=r.value,
        region_prefix=region_prefix,
        employer_id=employer_id,
        name=name,
        expires_at=expires_at,
    )
    session.add(row)
    session.flush()
    return NewKey(key, row.id, r, region_prefix, employer_id, name, expires_at)


def revoke_key(session: Session, key_id: int) -> ApiKey | None:
    """Mark a key revoked (kept for the audit trail); None when no such key."""
    row = session.get(ApiKey, key_id)
    if row is None:
        return None
    if row.revoked_at is None:
        row.revoked_at = clock.now_utc()
    forget_cached_keys()
    return row


def _principal_of(row: ApiKey) -> Principal:
    return Principal(
        role=Role(row.role),
        key_id=row.id,
        region_prefix=row.region_prefix,
        employer_id=row.employer_id,
        name=row.name,
    )


class _KeyCache:
    """key hash -> (principal, expiry); spares a store query on every request."""

    def __init__(self) -> None:
        self._items: dict[str, tuple[Principal, float]] = {}
        self._lock = threading.Lock()

    def get(self, digest: str) -> Principal | None:
        item = self._items.get(digest)
        if item is None or item[1] < time.monotonic():
            return None
        return item[0]

    def put(self, digest: str, principal: Principal, valid_for: float | None = None) -> None:
        """Remember ``principal`` for :data:`KEY_CACHE_SECONDS`, or less when its key
        expires sooner (``valid_for`` seconds)."""
        ttl = KEY_CACHE_SECONDS if valid_for is None else min(KEY_CACHE_SECONDS, valid_for)
        with self._lock:
            if len(self._items) > 10_000:
                self._items.clear()
            self._items[digest] = (principal, time.monotonic() + ttl)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


_cache = _KeyCache()


def forget_cached_keys() -> None:
    """Forget every key this process verified: the next request with any key is checked
    in the store again (a revoked or expired key is refused at once, not within
    :data:`KEY_CACHE_SECONDS`)."""
    _cache.clear()


def _parse_key(key: str | None) -> tuple[str, str] | None:
    """(prefix, hash) of a well-formed ``key``, else None."""
    if not key:
        return None
    key = key.strip()
    m = _KEY_RE.match(key)
    return (m.group(1), hash_key(key)) if m else None


def cached_principal(key: str | None) -> Principal | None:
    """The principal of ``key`` if this process verified it less than
    ``KEY_CACHE_SECONDS`` ago (no store query), else None."""
    parsed = _parse_key(key)
    return None if parsed is None else _cache.get(parsed[1])


def authenticate(session: Session, key: str | None) -> Principal | None:
    """The principal of ``key``, or None when it is malformed, unknown, revoked or expired."""
    parsed = _parse_key(key)
    if parsed is None:
        return None
    prefix, digest = parsed
    cached = _cache.get(digest)
    if cached is not None:
        return cached
    rows = session.scalars(select(ApiKey).where(ApiKey.key_prefix == prefix)).all()
    now = clock.now_utc()
    for row in rows:
        if hmac.compare_digest(row.key_hash, digest) and key_state(row, now) == "active":
            principal = _principal_of(row)
            left = None if row.expires_at is None else (row.expires_at - now).total_seconds()
            _cache.put(digest, principal, left)
            return principal
    return None


# --------------------------------------------------------------------------- failed attempts


class FailedAuthLimiter:
    """Counts failed authentications per client address and refuses an address that
    failed ``limit`` times within ``window`` seconds until the window has passed
    (guessing keys from one address becomes hopeless; honest users mistype a few
    times). In-process: with N server processes an address gets N x ``limit``
    attempts per window at most, which does not change the arithmetic of guessing a
    256-bit key. ``limit`` 0 switches it off.
    """

    def __init__(self, limit: int = 20, window: float = 60.0) -> None:
        self.limit = limit
        self.window = window
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, address: str, now: float) -> deque[float] | None:
        times = self._failures.get(address)
        if times is None:
            return None
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del self._failures[address]
            return None
        return times

    def retry_after(self, address: str) -> int | None:
        """Seconds until ``address`` may try again, or None when it may now."""
        if self.limit <= 0:
            return None
        now = time.monotonic()
        with self._lock:
            times = self._recent(address, now)
            if times is None or len(times) < self.limit:
                return None
            return max(1, math.ceil(times[-self.limit] + self.window - now))

    def failed(self, address: str) -> None:
        if self.limit <= 0:
            return
        now = time.monotonic()
        with self._lock:
            if len(self._failures) > 100_000:  # a flood of addresses: start over
                self._failures.clear()
            times = self._recent(address, now)
            if times is None:
                times = self._failures[address] = deque()
            times.append(now)
            while len(times) > self.limit:
                times.popleft()


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _limiter(request: Request) -> FailedAuthLimiter:
    """The app's limiter (``create_app`` always installs one)."""
    limiter: FailedAuthLimiter = request.app.state.auth_limiter
    return limiter


def _too_many(retry: int) -> HTTPException:
    return HTTPException(
        status.HTTP_429_TOO_MANY_REQUESTS,
        f"too many failed authentications from your address: try again in {retry} s",
        headers={"Retry-After": str(retry)},
    )


def check_attempts(request: Request) -> None:
    """429 when the caller's address failed to authenticate too often lately."""
    if retry := _limiter(request).retry_after(client_address(request)):
        raise _too_many(retry)


def record_failure(request: Request) -> None:
    _limiter(request).failed(client_address(request))


# --------------------------------------------------------------------------- dependencies


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


def get_session(request: Request) -> Iterator[Session]:
    """One session per request on the app's store; commits on success."""
    with transaction(request.app.state.session_factory) as session:
        yield session


# scope "function": the transaction commits when the route returns, before the response is
# sent. (FastAPI's default, "request", commits after sending: a browser following the
# redirect of a POST could then read the store before the POST's writes are in it.)
SessionDep = Annotated[Session, Depends(get_session, scope="function")]

_UNAUTHORISED = {"WWW-Authenticate": "Bearer"}


def _authenticate_in_store(factory: sessionmaker[Session], key: str) -> Principal | None:
    with transaction(factory) as session:
        return authenticate(session, key)


#: The API's security scheme in OpenAPI (``Authorization: Bearer <key>``); it does not
#: refuse by itself, :func:`get_principal` says what is wrong.
bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="apiKey",
    description="an API key from `jobmatch keys create`, as `Authorization: Bearer <key>`",
)


async def get_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> Principal:
    """The caller of an API route, from ``Authorization: Bearer <key>``; 401 otherwise."""
    # async, so that a key verified recently costs no worker thread and no store query;
    # the store is asked (in the thread pool) only when the cache does not know the key
    key = credentials.credentials.strip() if credentials is not None else None
    if key is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing API key: send 'Authorization: Bearer <key>' "
            "(create one with `jobmatch keys create`)",
            headers=_UNAUTHORISED,
        )
    principal = cached_principal(key)
    if principal is not None:
        return principal
    check_attempts(request)
    principal = await run_in_threadpool(
        _authenticate_in_store, request.app.state.session_factory, key
    )
    if principal is None:
        record_failure(request)
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "unknown, expired or revoked API key",
            headers=_UNAUTHORISED,
        )
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def require_roles(*roles: str | Role):
    """A dependency returning the principal when its role is one of ``roles``, else 403."""
    allowed = {Role(r) for r in roles}

    async def _check(principal: CurrentPrincipal) -> Principal:
        if principal.role not in allowed:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"this action needs the role {' or '.join(sorted(allowed))}; "
                f"your key has the role {principal.role.value}",
            )
        return principal

    return _check


AdminPrincipal = Annotated[Principal, Depends(require_roles(Role.ADMIN))]
OfficerPrincipal = Annotated[Principal, Depends(require_roles(Role.ADMIN, Role.OFFICER))]
EmployerPrincipal = Annotated[Principal, Depends(require_roles(Role.ADMIN, Role.EMPLOYER))]


def get_web_principal(request: Request, session: SessionDep) -> Principal | None:
    """The logged-in user of a web page (key in the cookie), or None (also when the
    address failed to authenticate too often lately)."""
    key = request.cookies.get(KEY_COOKIE)
    if not key:
        return None
    principal = cached_principal(key)
    if principal is not None:
        return principal
    if _limiter(request).retry_after(client_address(request)):
        return None
    principal = authenticate(session, key)
    if principal is None:
        record_failure(request)
    return principal


WebPrincipal = Annotated[Principal | None, Depends(get_web_principal)]


async def get_purpose(
    x_purpose: Annotated[str | None, Header()] = None,
    purpose: Annotated[str | None, Query(max_length=300)] = None,
) -> str | None:
    """Why personal data is read, as the caller states it (header wins over query)."""
    value = (x_purpose or purpose or "").strip()
    return value[:300] or None


PurposeDep = Annotated[str | None, Depends(get_purpose)]
