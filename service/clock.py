"""The service's clock, in one place.

The store keeps naive UTC instants; people think in the calendar day of their office
(``Settings.office_timezone``, Asia/Shanghai by default): "today" on a page, a date typed
without a time, the day a follow-up is due. A server running in UTC would otherwise call
07:00 in Beijing "yesterday".
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo


def now_utc() -> datetime:
    """This instant as naive UTC (how the store keeps instants)."""
    return datetime.now(UTC).replace(tzinfo=None)


def office_today(zone: str) -> date:
    """Today's calendar day in the office's IANA time zone ``zone``."""
    return datetime.now(ZoneInfo(zone)).date()
