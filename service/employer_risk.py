"""Employers' risk figures from what happened to the workers they hired: the wage-arrears
and labour-contract channel.

Sources, all recorded in the store:

* ``wage_arrears`` and ``injury`` outcomes on the employer's vacancies (imported, recorded
  by officers, or recorded by a follow-up that found the worker unpaid or injured:
  ``service.followups.complete``). The ranker's employer-risk features
  (``matcher.models.features``: smoothed arrears / leaving / retention rates) are learned from
  these same outcomes in the training snapshot, so they reach the model at the next
  training; the figures here are live and shown as warnings at once.
* completed follow-ups that found no written contract or no social insurance.

A case is one placement (a worker's hire): several reports about the same job count once.
An employer whose arrears plus no-contract cases within ``WINDOW_DAYS`` reach the
threshold (``Settings.employer_risk_threshold``) is flagged for the labour inspectorate,
with the evidence: each case's kind and date, the job and the worker's home county; the
worker's id only when the reader's region holds the worker (never names or phones).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import BindParameter, bindparam, false, func, or_, select
from sqlalchemy.orm import Session

from matcher.data.schema import EventType
from service import clock
from service.auth import Principal
from service.followups import FollowUpStatus
from service.store.models import Employer, Event, FollowUp, Placement, Vacancy, Worker

WINDOW_DAYS = 365
DEFAULT_THRESHOLD = 3


@dataclass
class RiskFigures:
    employer_id: str
    hires: int = 0
    arrears: int = 0
    no_contract: int = 0
    no_insurance: int = 0
    injuries: int = 0
    arrears_amount: float = 0.0
    recent: int = 0  # arrears + no-contract cases within the window
    first_at: datetime | None = None
    last_at: datetime | None = None
    flagged: bool = False
    threshold: int = DEFAULT_THRESHOLD

    def see(self, at: datetime) -> None:
        self.first_at = at if self.first_at is None else min(self.first_at, at)
        self.last_at = at if self.last_at is None else max(self.last_at, at)

    @property
    def warning(self) -> str | None:
        """The warning officers read beside this employer's vacancies, or None."""
        if not (self.arrears or self.no_contract):
            return None
        parts = []
        if self.arrears:
            parts.append(f"欠薪 {self.arrears} 起")
        if self.no_contract:
            parts.append(f"未签劳动合同 {self.no_contract} 起")
        text = f"回访与结果记录：该单位{'、'.join(parts)}"
        if self.last_at is not None:
            text += f"，最近一次 {self.last_at:%Y-%m-%d}"
        if self.flagged:
            text += "（已达提请劳动监察标准）"
        return text


@dataclass(frozen=True)
class Case:
    """One piece of evidence: a job (placement or worker-vacancy pair) and what was found."""

    kind: str  # wage_arrears | no_contract | no_insurance | injury
    at: datetime
    employer_id: str
    vacancy_id: str
    worker_id: str
    home_region: str
    arrears_months: int | None = None
    arrears_amount: float | None = None


_EVENT_CASES = (
    select(
        Event.event,
        Event.occurred_at,
        Vacancy.employer_id,
        Event.vacancy_id,
        Event.worker_id,
        Worker.home_region,
    )
    .join(Vacancy, Vacancy.vacancy_id == Event.vacancy_id)
    .join(Worker, Worker.worker_id == Event.worker_id)
    .where(Event.event.in_((EventType.WAGE_ARREARS.value, EventType.INJURY.value)))
)
_FOLLOW_UP_CASES = (
    select(
        FollowUp.contract_signed,
        FollowUp.social_insurance,
        FollowUp.arrears_months,
        FollowUp.arrears_amount,
        FollowUp.completed_at,
        Placement.employer_id,
        Placement.vacancy_id,
        Placement.worker_id,
        Worker.home_region,
    )
    .join(Placement, Placement.id == FollowUp.placement_id)
    .join(Worker, Worker.worker_id == FollowUp.worker_id)
    .where(
        FollowUp.status == FollowUpStatus.DONE.value,
        or_(
            FollowUp.contract_signed == false(),
            FollowUp.social_insurance == false(),
            FollowUp.arrears_months > 0,
            FollowUp.arrears_amount > 0,
        ),
    )
)
#: The same for some employers, through the indexed id columns (the employers'
#: vacancies and placements first). Built once: constructing these statements cost
#: about as much as running them (the recommendation route asks on every cache miss).
_EMPLOYERS: BindParameter[list[str]] = bindparam("employers", expanding=True)
_EVENT_CASES_OF = _EVENT_CASES.where(
    Event.vacancy_id.in_(select(Vacancy.vacancy_id).where(Vacancy.employer_id.in_(_EMPLOYERS)))
)
_FOLLOW_UP_CASES_OF = _FOLLOW_UP_CASES.where(
    FollowUp.placement_id.in_(select(Placement.id).where(Placement.employer_id.in_(_EMPLOYERS)))
)


def _cases(session: Session, employer_ids: Sequence[str] | None) -> list[Case]:
    """Every case of the employers (None: of all employers), earliest report per job."""
    if employer_ids is None:
        ev, fu, params = _EVENT_CASES, _FOLLOW_UP_CASES, {}
    else:
        ev, fu = _EVENT_CASES_OF, _FOLLOW_UP_CASES_OF
        params = {"employers": list(employer_ids)}
    first: dict[tuple[str, str, str], Case] = {}
    amounts: dict[tuple[str, str], tuple[int | None, float | None]] = {}

    def keep(case: Case) -> None:
        key = (case.kind, case.worker_id, case.vacancy_id)
        if key not in first or case.at < first[key].at:
            first[key] = case

    for event, occurred, employer, vacancy, worker, region in session.execute(ev, params):
        kind = "wage_arrears" if event == EventType.WAGE_ARREARS.value else "injury"
        keep(Case(kind, occurred, employer, vacancy, worker, region))
    for (
        contract,
        insurance,
        months,
        amount,
        at,
        employer,
        vacancy,
        worker,
        region,
    ) in session.execute(fu, params):
        if at is None:
            continue
        if contract is False:
            keep(Case("no_contract", at, employer, vacancy, worker, region))
        if insurance is False:
            keep(Case("no_insurance", at, employer, vacancy, worker, region))
        if months or amount:
            keep(Case("wage_arrears", at, employer, vacancy, worker, region))
            old = amounts.get((worker, vacancy), (None, None))
            amounts[(worker, vacancy)] = (
                max(filter(None, (old[0], months)), default=None),
                max(filter(None, (old[1], amount)), default=None),
            )
    out = []
    for case in first.values():
        months, amount = amounts.get((case.worker_id, case.vacancy_id), (None, None))
        if case.kind == "wage_arrears" and (months or amount):
            case = Case(**{**case.__dict__, "arrears_months": months, "arrears_amount": amount})
        out.append(case)
    return sorted(out, key=lambda c: (c.at, c.kind, c.vacancy_id))


def figures(
    session: Session,
    employer_ids: Sequence[str] | None = None,
    *,
    threshold: int = DEFAULT_THRESHOLD,
    now: datetime | None = None,
    cases: list[Case] | None = None,
    with_hires: bool = True,
) -> dict[str, RiskFigures]:
    """Risk figures per employer (only employers with a hire or a case appear);
    ``with_hires=False`` skips counting hires (the warnings do not need them)."""
    now = now or clock.now_utc()
    since = now - timedelta(days=WINDOW_DAYS)
    cases = _cases(session, employer_ids) if cases is None else cases
    out: dict[str, RiskFigures] = {}

    def get(employer_id: str) -> RiskFigures:
        if employer_id not in out:
            out[employer_id] = RiskFigures(employer_id, threshold=threshold)
        return out[employer_id]

    hires = select(Placement.employer_id, func.count()).group_by(Placement.employer_id)
    if employer_ids is not None:
        hires = hires.where(Placement.employer_id.in_(list(employer_ids)))
    for employer_id, n in session.execute(hires) if with_hires else ():
        get(employer_id).hires += int(n)
    for case in cases:
        f = get(case.employer_id)
        if case.kind == "wage_arrears":
            f.arrears += 1
            f.arrears_amount += case.arrears_amount or 0.0
        elif case.kind == "no_contract":
            f.no_contract += 1
        elif case.kind == "no_insurance":
            f.no_insurance += 1
        else:
            f.injuries += 1
        if case.kind in ("wage_arrears", "no_contract"):
            f.see(case.at)
            if case.at >= since:
                f.recent += 1
    for f in out.values():
        f.flagged = f.recent >= threshold
    return out


def evidence(
    session: Session, principal: Principal, employer_id: str, *, threshold: int
) -> dict[str, Any]:
    """An employer's figures and the cases behind them, as ``principal`` may see them."""
    cases = _cases(session, [employer_id])
    fig = figures(session, [employer_id], threshold=threshold, cases=cases).get(
        employer_id, RiskFigures(employer_id, threshold=threshold)
    )
    name = session.scalar(select(Employer.name).where(Employer.employer_id == employer_id))
    titles = dict(
        session.execute(
            select(Vacancy.vacancy_id, Vacancy.title).where(
                Vacancy.vacancy_id.in_({c.vacancy_id for c in cases})
            )
        ).all()
    )
    return {
        "employer_id": employer_id,
        "employer_name": name,
        **figures_view(fig),
        "window_days": WINDOW_DAYS,
        "cases": [
            {
                "kind": c.kind,
                "at": c.at,
                "vacancy_id": c.vacancy_id,
                "vacancy_title": titles.get(c.vacancy_id),
                "home_region": c.home_region,
                "worker_id": c.worker_id if principal.sees_region(c.home_region) else None,
                "arrears_months": c.arrears_months,
                "arrears_amount": c.arrears_amount,
            }
            for c in cases
        ],
    }


def figures_view(f: RiskFigures) -> dict[str, Any]:
    return {
        "hires": f.hires,
        "arrears": f.arrears,
        "no_contract": f.no_contract,
        "no_insurance": f.no_insurance,
        "injuries": f.injuries,
        "arrears_amount": round(f.arrears_amount, 2),
        "recent": f.recent,
        "first_at": f.first_at,
        "last_at": f.last_at,
        "flagged": f.flagged,
        "threshold": f.threshold,
        "warning": f.warning,
    }


def flagged(session: Session, *, threshold: int) -> list[dict[str, Any]]:
    """Employers to report to the labour inspectorate, most recent cases first."""
    figs = [f for f in figures(session, None, threshold=threshold).values() if f.flagged]
    names = dict(
        session.execute(
            select(Employer.employer_id, Employer.name).where(
                Employer.employer_id.in_([f.employer_id for f in figs])
            )
        ).all()
    )
    figs.sort(key=lambda f: (-f.recent, f.employer_id))
    return [
        {"employer_id": f.employer_id, "employer_name": names.get(f.employer_id), **figures_view(f)}
        for f in figs
    ]


def warnings_for(
    session: Session, employer_ids: Sequence[str], *, threshold: int
) -> dict[str, str]:
    """Per employer among ``employer_ids``: the live risk warning, when there is one."""
    if not employer_ids:
        return {}
    figs = figures(
        session, list(dict.fromkeys(employer_ids)), threshold=threshold, with_hires=False
    )
    return {e: f.warning for e, f in figs.items() if f.warning}


__all__ = ["Case", "RiskFigures", "evidence", "figures", "flagged", "warnings_for"]
