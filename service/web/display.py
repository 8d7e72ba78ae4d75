"""Numbers, dates and states as the pages show them.

The rules: never a bare ``0.00`` — a match is shown as its rank and a level (or, when
the engine gives a calibrated probability, as a percentage chance); rates are
percentages; dates are days; a vacancy past its deadline reads 已截止 with the date.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from matcher.data import reference
from service import clock

#: a match's level from its score relative to the best of the same list
_LEVELS = ((0.75, ("推荐度高", "strong match")), (0.4, ("推荐度中", "fair match")))
_LOW = ("推荐度一般", "weaker match")


def _en(lang: str) -> bool:
    return lang == "en"


def region_name(code: Any, lang: str = "zh") -> str:
    """``542427`` -> 西藏自治区索县; a prefix names its prefecture or province."""
    if code is None or code == "":
        return "—"
    return reference.region_name(str(code))


def probability_of(item: Mapping[str, Any]) -> float | None:
    """The calibrated chance of a stable placement, when the engine gives one."""
    for key in ("probability", "stable_probability", "p_stable"):
        value = item.get(key)
        if isinstance(value, int | float):
            return float(value)
    return None


def chance_text(p: float, lang: str = "zh", months: int = 6) -> str:
    pct = p * 100
    shown = "<1" if 0 < pct < 1 else f"{pct:.0f}"
    if _en(lang):
        return f"about {shown}% chance of a job kept {months} months"
    return f"约 {shown}% 的机会稳定就业 {months} 个月"


def share_text(p: float, lang: str = "zh") -> str:
    """A probability as a person reads it: ``0.0001`` -> "不到 1%", ``0.19`` -> "约 19%"."""
    pct = round(100 * p)
    if pct < 1:
        return "under 1%" if _en(lang) else "不到 1%"
    return f"about {pct}%" if _en(lang) else f"约 {pct}%"


def match_text(item: Mapping[str, Any], top: float | None = None, lang: str = "zh") -> str:
    """A recommendation's strength for a person: the calibrated chance when there is
    one, else its rank and a level relative to the best match of the list."""
    rank = item.get("rank")
    said = item.get("stable_chance")
    if isinstance(said, str) and said:  # the engine's calibrated chance, in words
        if rank is None:
            return said
        return f"#{rank} · {said}" if _en(lang) else f"第 {rank} 位 · {said}"
    p = probability_of(item)
    if p is not None:
        return chance_text(p, lang)
    score = item.get("score")
    level = _LOW
    if isinstance(score, int | float) and top and top > 0:
        ratio = float(score) / float(top)
        for bound, pair in _LEVELS:
            if ratio >= bound:
                level = pair
                break
    text = level[1 if _en(lang) else 0]
    if rank is None:
        return text
    return f"#{rank} · {text}" if _en(lang) else f"第 {rank} 位 · {text}"


def percent(value: Any, digits: int = 0) -> str:
    """``0.715789`` -> ``72%``; missing -> ``—``."""
    if value is None or value == "":
        return "—"
    try:
        x = float(value)
    except (TypeError, ValueError):
        return str(value)
    if x != x:  # NaN
        return "—"
    return f"{x * 100:.{digits}f}%"


def gini(value: Any) -> str:
    """A Gini coefficient (0 even … 1 all on one) with its reading, never a bare 0.00."""
    if value is None or value != value:
        return "—"
    x = float(value)
    if x < 0.005:
        return "0（完全均匀）"
    return f"{x:.2f}"


def money(value: Any) -> str:
    if value is None or value == "":
        return "—"
    try:
        return f"{float(value):,.0f}"
    except (TypeError, ValueError):
        return str(value)


def wage_range(low: Any, high: Any, lang: str = "zh") -> str:
    """A monthly wage range as people write it; no figure at all is 面议 (negotiable)."""
    lo, hi = (None if v is None or v != v else float(v) for v in (low, high))  # NaN: missing
    en = _en(lang)
    if lo is None and hi is None:
        return "negotiable" if en else "面议"
    if hi is None or lo == hi:
        assert lo is not None
        exact = hi is not None
        if en:
            return f"{money(lo)} yuan" + ("" if exact else " or more")
        return f"{money(lo)} 元" + ("" if exact else "起")
    if lo is None:
        return f"up to {money(hi)} yuan" if en else f"{money(hi)} 元以内"
    return f"{money(lo)}–{money(hi)} yuan" if en else f"{money(lo)}–{money(hi)} 元"


def _as_date(value: Any) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return datetime.fromisoformat(str(value)).date()
    except ValueError:
        return None


def day(value: Any) -> str:
    d = _as_date(value)
    return d.isoformat() if d else "—"


def deadline(value: Any, lang: str = "zh", on: date | None = None) -> str:
    """The deadline with how far away it is: ``2026-05-01（还剩 12 天）``; ``on`` is today in
    the office's time zone (pages bind it, see ``render.render``; UTC's day without it)."""
    d = _as_date(value)
    if d is None:
        return "长期有效" if not _en(lang) else "no deadline"
    left = (d - (on or _utc_today())).days
    if _en(lang):
        if left < 0:
            return f"{d.isoformat()} (passed)"
        return f"{d.isoformat()} ({left} days left)" if left else f"{d.isoformat()} (today)"
    if left < 0:
        return f"{d.isoformat()}（已过）"
    return f"{d.isoformat()}（还剩 {left} 天）" if left else f"{d.isoformat()}（今天截止）"


def vacancy_state(v: Mapping[str, Any], lang: str = "zh", on: date | None = None) -> dict[str, str]:
    """``{code, text, reason}`` of a vacancy for a page: open, filled, closed by the
    employer, or past its deadline (已截止, with the date) — stored or not yet swept."""
    en = _en(lang)
    status = str(v.get("status") or "open")
    reason = str(v.get("closed_reason") or "")
    closes = _as_date(v.get("closes_at"))
    past = _past(v.get("closes_at"), on or _utc_today())
    if status == "filled" or reason == "filled":
        return {
            "code": "filled",
            "text": "filled" if en else "已招满",
            "reason": "every seat is taken" if en else "招聘人数已满",
        }
    if reason == "deadline" or (status in ("open", "closed") and past and reason != "employer"):
        when = closes.isoformat() if closes else ""
        return {
            "code": "expired",
            "text": "past its deadline" if en else "已截止",
            "reason": (
                f"the deadline {when} has passed; closed automatically"
                if en
                else f"截止日期 {when} 已过，系统已自动截止"
            ),
        }
    if status == "closed":
        return {
            "code": "closed",
            "text": "closed" if en else "已关闭",
            "reason": "closed by the employer" if en else "企业已关闭该岗位",
        }
    return {"code": "open", "text": "open" if en else "招聘中", "reason": ""}


def _utc_today() -> date:
    return clock.now_utc().date()


def _past(value: Any, today: date) -> bool:
    if value is None or value == "":
        return False
    if isinstance(value, datetime):
        at = value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
        return at <= clock.now_utc()
    d = _as_date(value)
    return d is not None and d < today
