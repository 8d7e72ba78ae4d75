"""A family of sample markets: named variants whose behaviour follows different mechanisms.

A model tuned on one simulated market learns that market's mechanism. Judged against the
ground truth of several markets that differ in *why* people apply, *why* they stay, how
many are new and how scarce seats are, a model shows whether it learns the mechanism in
the data or one built into it. Each variant is a documented parameter set
(``docs/sample-market.md``, "Variants"); ``jobmatch synth --variant NAME`` writes one.

========================  ==============================================================
variant                   mechanism
========================  ==============================================================
``default``               the documented market (``behaviour.PARAMS``)
``wage-driven``           applications, acceptance and stays turn on pay; networks matter little
``distance-driven``       applications turn on distance and housing; pay matters little
``contract-retention``    who stays is decided by contracts, insurance and paying employers
``villager-retention``    who stays is decided by fellow villagers at the employer and the network
``cold-start``            most workers register during the horizon (little history)
``scarce-seats``          vacancies post 0.3x the seats: fewer seats than seekers
========================  ==============================================================
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from training.synth.behaviour import PARAMS, Params


@dataclass(frozen=True)
class MarketVariant:
    """A named sample market: behaviour parameters plus the draws' knobs.

    Attributes
    ----------
    name : str
    mechanism : str
        One sentence: what drives behaviour in this market.
    params : Params
        The behavioural model's coefficients.
    seats_scale : float
        Multiplies the seats each vacancy posts (at least 1, at most 60).
    registered_before : float
        Share of workers registered before the horizon; the rest register during it.
    """

    name: str
    mechanism: str
    params: Params = field(default=PARAMS)
    seats_scale: float = 1.0
    registered_before: float = 0.6


DEFAULT_VARIANT = MarketVariant("default", "the documented market (behaviour.PARAMS)")

VARIANTS: dict[str, MarketVariant] = {
    v.name: v
    for v in (
        DEFAULT_VARIANT,
        MarketVariant(
            "wage-driven",
            "applications, acceptance and stays turn on pay against the expected wage; "
            "networks, referrals and preferences matter little",
            replace(
                PARAMS,
                apply_wage=6.0,
                accept_wage=4.0,
                leave_wage=-4.0,
                apply_referral=0.2,
                apply_network=0.05,
                apply_partner=0.05,
                apply_preferred=0.2,
                hire_referral=0.2,
                leave_referral=-0.05,
                leave_network=-0.05,
            ),
        ),
        MarketVariant(
            "distance-driven",
            "applications turn on distance from home and housing on a long move; pay "
            "matters little",
            replace(
                PARAMS,
                apply_wage=0.5,
                accept_wage=0.3,
                leave_wage=-0.3,
                apply_distance=-1.2,
                apply_housing_far=0.2,
                apply_no_housing_far=-1.5,
                leave_far_no_housing=1.4,
            ),
        ),
        MarketVariant(
            "contract-retention",
            "who stays is decided by written contracts, social insurance and employers "
            "that pay on time; fellow villagers and the network do not keep anyone",
            replace(
                PARAMS,
                leave_no_contract=1.2,
                leave_no_insurance=0.8,
                leave_risky=1.4,
                arrears_p_risky=0.8,
                leave_quality=-0.6,
                leave_referral=0.0,
                leave_network=0.0,
                leave_group=0.0,
            ),
        ),
        MarketVariant(
            "villager-retention",
            "who stays is decided by fellow villagers at the employer and the county's "
            "network in the province; contracts, insurance and arrears barely matter",
            replace(
                PARAMS,
                leave_referral=-1.0,
                leave_network=-0.5,
                leave_group=-1.2,
                leave_no_contract=0.0,
                leave_no_insurance=0.0,
                leave_risky=0.1,
                arrears_p_risky=0.15,
                arrears_leave_p=0.3,
            ),
        ),
        MarketVariant(
            "cold-start",
            "85 % of workers register during the horizon, so most have little or no history",
            registered_before=0.15,
        ),
        MarketVariant(
            "scarce-seats",
            "vacancies post 0.3x the seats, so seats are fewer than seekers and competition "
            "decides who is hired",
            seats_scale=0.3,
        ),
    )
}


def get_variant(name: str | MarketVariant) -> MarketVariant:
    """The variant called ``name`` (a :class:`MarketVariant` is returned as is).

    Raises
    ------
    ValueError
        For an unknown name, listing the known ones.
    """
    if isinstance(name, MarketVariant):
        return name
    try:
        return VARIANTS[name]
    except KeyError:
        raise ValueError(
            f"unknown market variant {name!r}; use one of {', '.join(VARIANTS)}"
        ) from None
