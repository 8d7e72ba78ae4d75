"""Plain-language reasons and warnings for a recommendation, from its pair features.

Language policy
---------------
Every reason or warning is a :class:`Reason`: a stable machine ``code`` (for the
web UI, logs and tests), the values it quotes, and its text in Chinese (``zh``,
what officers and workers read) and English (``en``). Tidy recommendation frames
carry strings in one language, chosen by the ``lang`` argument (default ``"zh"``);
``Recommender.explain`` returns the structured form with both. Nothing here quotes
personal data: only the vacancy, the employer's aggregate record, region names
and counts.

Reasons (at most :data:`MAX_REASONS`, in this order of weight): occupation match
(exact, then same minor or middle group), workers from the same county placed in
the destination province, workers from the same county hired by (or applying
to) this employer (a referral, 老乡介绍), wage above expectation, housing and meals, close to
home or within the home province, a region the worker prefers, a steady
employer, and text similarity when no occupation matched.

Warnings (all that apply): no labour contract, no social insurance, wage-arrears
reports against the employer, many of the employer's hires left early, wage
below expectation, far from home, employer not verified.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from matcher.data.reference import occupation_ancestors, occupations, regions

LANGS = ("zh", "en")
MAX_REASONS = 5
#: Placements from the same county needed before the flow is worth mentioning.
FLOW_MIN = 3
NEAR_KM = 50.0
FAR_KM = 1000.0
WAGE_ABOVE = 1.05
WAGE_BELOW = 0.9
#: Employer hires needed before its rates are quoted.
EMPLOYER_MIN_HIRES = 5
HIGH_LEFT_RATE = 0.4
HIGH_RETAINED_RATE = 0.6
TEXT_SIMILAR = 0.35


@dataclass(frozen=True)
class Reason:
    """One reason or warning: a stable code, quoted values, Chinese and English text."""

    code: str
    zh: str
    en: str
    values: dict = field(default_factory=dict)

    def text(self, lang: str = "zh") -> str:
        if lang not in LANGS:
            raise ValueError(f"unknown language {lang!r}; use one of {', '.join(LANGS)}")
        return self.zh if lang == "zh" else self.en

    def as_dict(self) -> dict:
        return asdict(self)


def _num(x: float) -> str:
    return f"{x:,.0f}"


def _wage_range(lo: float, hi: float) -> str:
    ok_lo, ok_hi = math.isfinite(lo), math.isfinite(hi)
    if ok_lo and ok_hi and lo != hi:
        return f"{_num(lo)}–{_num(hi)}"
    return _num(lo if ok_lo else hi)


def _occupation_name(code: str, level: int) -> str:
    """Name of ``code``'s ancestor at CSCO ``level`` (1..4), or the code itself."""
    table = occupations()
    chain = [code, *occupation_ancestors(code)]
    for c in chain:
        o = table.get(c)
        if o is not None and o.level <= level:
            return o.name
    return code


def _province_name(code: object) -> str:
    if not isinstance(code, str) or len(code) < 2:
        return ""
    r = regions().get(code[:2] + "0000")
    return r.name if r else code[:2] + "0000"


def _flag(x: object) -> float:
    try:
        v = float(x)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan
    return v


def _raw(row: Mapping[str, Any], name: str) -> float:
    """A count quoted from the pair features (``<name>_log`` holds log(1 + count))."""
    value = _flag(row.get(f"{name}_log", float("nan")))
    return float(round(math.expm1(value))) if math.isfinite(value) else 0.0


def explain_pair(
    row: Mapping[str, Any], region: str, market_left_rate: float = 0.0
) -> tuple[list[Reason], list[Reason]]:
    """Reasons and warnings for one pair.

    Parameters
    ----------
    row : mapping (dict or Series)
        One pair's :data:`matcher.models.features.PAIR_COLUMNS` by name (the values of
        :func:`matcher.models.features.pair_matrix`) and its ``matched_code``.
    region : str
        The vacancy's region code (for the province name).
    market_left_rate : float
        The market-wide share of hires who left (the employer's rate is compared
        against the larger of this and :data:`HIGH_LEFT_RATE`).

    Returns
    -------
    (reasons, warnings) : lists of Reason
    """
    reasons: list[Reason] = []
    warnings: list[Reason] = []
    occ = int(_flag(row["occ_match"]) or 0)
    code = row["matched_code"]
    if isinstance(code, str) and occ >= 2:
        name = _occupation_name(code, occ)
        if occ == 4:
            reasons.append(
                Reason(
                    "occupation_exact",
                    f"有{name}经验",
                    f"{name} experience matches",
                    {"occupation": name},
                )
            )
        else:
            reasons.append(
                Reason(
                    "occupation_related",
                    f"有相近工作经验（{name}）",
                    f"related experience ({name})",
                    {"occupation": name, "level": occ},
                )
            )
    flow = _flag(row["flow"])
    if flow >= FLOW_MIN:
        prov = _province_name(region)
        reasons.append(
            Reason(
                "county_flow",
                f"本县已有{_num(flow)}人在{prov}就业",
                f"{_num(flow)} workers from your county were placed in {prov}",
                {"count": int(flow), "province": prov},
            )
        )
    tie_hired = _raw(row, "tie_hired")
    tie_applied = _raw(row, "tie_applied")
    if tie_hired >= 1:
        reasons.append(
            Reason(
                "county_employer_hires",
                f"本县已有{_num(tie_hired)}人在该单位就业（老乡介绍）",
                f"{_num(tie_hired)} workers from your county were hired by this employer",
                {"count": int(tie_hired)},
            )
        )
    elif tie_applied >= 2:
        reasons.append(
            Reason(
                "county_employer_applications",
                f"本县已有{_num(tie_applied)}人申请过该单位的岗位",
                f"{_num(tie_applied)} workers from your county applied to this employer",
                {"count": int(tie_applied)},
            )
        )
    ratio = _flag(row["wage_ratio"])
    wage = _wage_range(_flag(row["wage_min"]), _flag(row["wage_max"]))
    expected = _flag(row["expected_wage"])
    if math.isfinite(ratio) and ratio >= WAGE_ABOVE:
        reasons.append(
            Reason(
                "wage_above_expected",
                f"月薪{wage}元，高于期望的{_num(expected)}元",
                f"wage {wage} is above the expected {_num(expected)}",
                {"wage": wage, "expected": expected},
            )
        )
    housing, meals = _flag(row["housing"]) == 1, _flag(row["meals"]) == 1
    if housing and meals:
        reasons.append(Reason("housing_meals", "包吃包住", "offers housing and meals"))
    elif housing:
        reasons.append(Reason("housing", "提供住宿", "offers housing"))
    elif meals:
        reasons.append(Reason("meals", "提供餐食", "offers meals"))
    dist = _flag(row["distance_km"])
    if math.isfinite(dist) and dist <= NEAR_KM:
        reasons.append(
            Reason(
                "near_home",
                f"离家近（{_num(dist)}公里）",
                f"close to home ({_num(dist)} km)",
                {"km": round(dist)},
            )
        )
    elif _flag(row["same_province"]) == 1:
        reasons.append(Reason("home_province", "省内就业", "in your home province"))
    if _flag(row["preferred_region"]) == 1:
        reasons.append(Reason("preferred_region", "在您希望工作的地区", "in a region you prefer"))
    hires = math.expm1(_flag(row["employer_hires_log"]))
    retained = _flag(row["employer_retained_rate"])
    if hires >= EMPLOYER_MIN_HIRES and retained >= HIGH_RETAINED_RATE:
        pct = round(100 * retained)
        reasons.append(
            Reason(
                "steady_employer",
                f"该单位员工稳定率高（{pct}%）",
                f"{pct}% of this employer's hires stayed three months or more",
                {"percent": pct},
            )
        )
    if occ < 2 and max(_flag(row["lexical"]), _flag(row["dense"])) >= TEXT_SIMILAR:
        reasons.append(
            Reason(
                "skills_text", "技能描述与岗位要求相近", "your skills resemble the job description"
            )
        )

    if _flag(row["labor_contract"]) == 0:
        warnings.append(Reason("no_labor_contract", "不签劳动合同", "no labour contract offered"))
    if _flag(row["social_insurance"]) == 0:
        warnings.append(Reason("no_social_insurance", "不缴社会保险", "no social insurance"))
    arrears = _flag(row["employer_arrears"])
    if arrears > 0:
        warnings.append(
            Reason(
                "wage_arrears",
                f"该单位有欠薪记录（{_num(arrears)}起）",
                f"employer has wage-arrears reports ({_num(arrears)})",
                {"count": int(arrears)},
            )
        )
    left = _flag(row["employer_left_rate"])
    if hires >= EMPLOYER_MIN_HIRES and left >= max(HIGH_LEFT_RATE, 1.5 * market_left_rate):
        pct = round(100 * left)
        warnings.append(
            Reason(
                "employer_turnover",
                f"该单位离职率高（{pct}%）",
                f"{pct}% of this employer's hires left early",
                {"percent": pct},
            )
        )
    if math.isfinite(ratio) and ratio < WAGE_BELOW:
        warnings.append(
            Reason(
                "wage_below_expected",
                f"月薪{wage}元，低于期望的{_num(expected)}元",
                f"wage {wage} is below the expected {_num(expected)}",
                {"wage": wage, "expected": expected},
            )
        )
    if math.isfinite(dist) and dist >= FAR_KM:
        warnings.append(
            Reason(
                "far_from_home",
                f"离家{_num(dist)}公里",
                f"{_num(dist)} km from home",
                {"km": round(dist)},
            )
        )
    if _flag(row["employer_verified"]) == 0:
        warnings.append(Reason("employer_unverified", "单位未经核实", "employer not verified"))
    return reasons[:MAX_REASONS], warnings


def stable_chance(score: float, weeks: int = 26) -> Reason:
    """The score of a calibrated model said plainly: the chance that proposing the
    vacancy ends in a job the worker still holds after ``weeks`` weeks (six months for
    26), e.g. "约 28% 的机会稳定就业 6 个月". Rounded to a whole percent; below 1 %
    says so."""
    if not (0.0 <= score <= 1.0) or math.isnan(score):
        raise ValueError(f"a probability must lie in [0, 1], got {score}")
    months = round(weeks * 12 / 52)
    span_zh = f"{months} 个月" if months * 52 == weeks * 12 else f"{weeks} 周"
    span_en = f"{months} months" if months * 52 == weeks * 12 else f"{weeks} weeks"
    percent = round(100 * score)
    if percent < 1:
        zh, en = f"不到 1% 的机会稳定就业 {span_zh}", f"under 1% chance of a job kept {span_en}"
    else:
        zh = f"约 {percent}% 的机会稳定就业 {span_zh}"
        en = f"about {percent}% chance of a job kept {span_en}"
    return Reason("stable_chance", zh, en, {"percent": percent, "weeks": weeks})


def texts(items: list[Reason], lang: str = "zh") -> list[str]:
    """The strings of reasons or warnings in one language."""
    return [r.text(lang) for r in items]


# --------------------------------------------------------------------------- audiences

#: Reasons and warnings written for the worker (and the officer) re-voiced for the
#: employer who posted the vacancy: ``(pattern, replacement)`` on the worker-voiced
#: text, ``None`` drops it. The worker's expected wage and preferences are not part
#: of the employer's view, so the reasons that quote them are dropped, and "your
#: county" becomes the candidate's. Patterns mirror the templates above, both languages.
_EMPLOYER_VOICE: tuple[tuple[str, str | None], ...] = (
    (r"^月薪.*[高低]于期望的.*$", None),
    (r"^wage .* is (above|below) the expected .*$", None),
    (r"^在您希望工作的地区$", None),
    (r"^in a region you prefer$", None),
    (r"^本县已有(.+)人在该单位就业（老乡介绍）$", r"其家乡县已有\1人在贵单位就业（老乡介绍）"),
    (r"^本县已有(.+)人申请过该单位的岗位$", r"其家乡县已有\1人申请过贵单位的岗位"),
    (r"^本县已有(.+)人在(.+)就业$", r"其家乡县已有\1人在\2就业"),
    (r"^(.+) workers from your county", r"\1 workers from the candidate's county"),
    (r"^离家近（(.+)）$", r"离其家乡近（\1）"),
    (r"^离家(.+)公里$", r"离其家乡\1公里"),
    (r"^close to home \((.+)\)$", r"close to the candidate's home (\1)"),
    (r"^(.+) km from home$", r"\1 km from the candidate's home"),
    (r"^省内就业$", "与其户籍同省"),
    (r"^in your home province$", "in the candidate's home province"),
    (r"^该单位", "贵单位"),
    (r"this employer's", "your"),
    (r"^employer (has|not)", r"your company \1"),
    (r"^your skills resemble", "the candidate's skills resemble"),
)


def for_employer(items: list[str]) -> list[str]:
    """Worker-voiced reason or warning texts as the vacancy's employer should read them:
    nothing about the worker's expected wage or preferences, "your county" re-voiced.
    Texts no pattern knows are kept (they describe the vacancy or the match)."""
    import re

    out = []
    for text in items:
        kept: str | None = text
        for pattern, replacement in _EMPLOYER_VOICE:
            if re.search(pattern, text):
                kept = None if replacement is None else re.sub(pattern, replacement, text)
                break
        if kept:
            out.append(kept)
    return out
