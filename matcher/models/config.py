"""The typed configuration of a :class:`matcher.serving.recommender.Recommender`.

:class:`RecommenderConfig` holds every hyper-parameter of the model except the text
embedder (an object; ``artifact.json`` names its class). It is validated when it is
made — each broken rule names the field, the value and the rule — and round-trips
through JSON (:meth:`RecommenderConfig.to_json` / :meth:`RecommenderConfig.from_json`),
which is how ``artifact.json`` stores it (plain JSON values, not repr strings).

The Recommender keeps scikit-learn's estimator contract (its ``__init__`` only stores
keyword arguments); ``Recommender.config`` builds and validates the config from them,
``fit`` does so first, and ``Recommender.from_config`` makes a model from one.
"""

from __future__ import annotations

import dataclasses
import numbers
from dataclasses import dataclass
from typing import Any

from matcher.models.calibration import CALIBRATION_METHODS, JOINT_TAILS
from matcher.models.explain import LANGS
from matcher.models.features import WAGE_IMPUTES
from matcher.models.ranking import APPLY_TERMS, STAY_COVARIATE_L2, STAY_RECORDS

#: Which stages the model runs: the full model or one of the two ablations.
STAGE_CHOICES = ("full", "lightfm", "content")
#: Negatives of the apply stage: sampled eligible vacancies, shown ones, or both.
APPLY_NEGATIVES = ("sampled", "viewed", "both")
#: Denominators of the apply stage's calibration.
APPLY_EXPOSURES = ("viewed", "sampled")
#: Where a vacancy's occupation code comes from when the store inferred it from the title:
#: the stored code, a title coder adapted to the market's own coded postings, or the
#: shipped suggestion model (the most accurate classifier on real labelled titles).
TITLE_CODINGS = ("stored", "market", "learned")
#: Map of the apply stage on the shown pairs: Platt's (or isotonic) on the stage's output
#: alone, or with covariates when they predict the slice better out of fold, or a logistic
#: regression on the terms of the choice without the booster, fitted on the pairs shown
#: in the booster's window and the slice ("history").
APPLY_MAPS = ("plain", "covariates", "history")
#: The stay stage: the booster's weekly rate of leaving through a piecewise hazard fitted
#: on the calibration slice, or a proportional hazard on the job's terms fitted on every
#: spell followed (the booster's window and the slice).
STAY_MAPS = ("plain", "covariates")
#: The hire stage: as learnt from the hires observed, or scored as a single applicant's
#: chance with a seat free, the competition each application met learnt by the booster
#: ("competition") or by the slice's Platt map with network covariates ("competition-map"),
#: that map scored with the worker's own other applications at their slice mean
#: ("competition-typical"),
#: or a logistic regression on the competition and the pair's terms without the booster,
#: fitted on the booster window's applications and the slice's ("covariates"), or the same
#: regression fitted on every application of the history windows and the slice's, scored
#: as "competition-typical" ("history").
HIRE_MAPS = (
    "plain",
    "competition",
    "competition-map",
    "competition-typical",
    "covariates",
    "history",
)
#: Stages that learn from the whole history before the calibration slice, cut into short
#: windows (the hire booster from every application whose decision was due, the stay map
#: from every spell followed) instead of from the booster's training window alone.
HISTORY_STAGES = ("none", "hire", "stay", "hire-stay")
#: Spells of the stay map (``stay_map="covariates"``) besides the slice's: the booster's
#: window's, or also those of the history windows of ``hire_map="history"`` that end by
#: the booster's window's start ("earlier").
STAY_SPELLS = ("window", "earlier")
FESTIVAL_LEAVE = ("none", "learnt")
#: The hire regression without its booster (``hire_map`` "covariates" or "history"): one
#: regression of hired per application, or the employer's offer (no rival for the seats)
#: times the worker's acceptance of one offer held alone ("offer-accept").
HIRE_SPLITS = ("none", "offer-accept")

_CHOICES: dict[str, tuple[str, ...]] = {
    "stages": STAGE_CHOICES,
    "apply_negatives": APPLY_NEGATIVES,
    "calibration": CALIBRATION_METHODS,
    "apply_exposure": APPLY_EXPOSURES,
    "apply_map": APPLY_MAPS,
    "apply_terms": APPLY_TERMS,
    "stay_map": STAY_MAPS,
    "hire_map": HIRE_MAPS,
    "history_stages": HISTORY_STAGES,
    "stay_spells": STAY_SPELLS,
    "stay_record": STAY_RECORDS,
    "festival_leave": FESTIVAL_LEAVE,
    "hire_split": HIRE_SPLITS,
    "lang": LANGS,
    "title_coding": TITLE_CODINGS,
    "joint_tails": JOINT_TAILS,
    "wage_impute": WAGE_IMPUTES,
}
_AT_LEAST_ONE = (
    "no_components",
    "epochs",
    "max_sampled",
    "n_clusters",
    "n_candidates",
    "ranker_max_workers",
    "ranker_folds",
    "stay_weeks",
    "max_iter",
    "stay_min_leaf",
    "history_windows",
)
_POSITIVE = ("learning_rate", "ranker_learning_rate")
_NOT_NEGATIVE = ("item_alpha", "user_alpha", "ranker_negatives", "stay_l2")
#: shares of the events, each < 1: whether 0 is allowed
_SHARES = {"ranker_holdout": False, "calibration_share": True}

#: Parameters added after artifacts first saved their config, each with the value an
#: artifact (or a stored list) written before it behaves as. Not always the default: the
#: apply, hire and stay maps became "covariates"/"competition-typical" by default later, and a
#: model trained before them must still read as what it is ("plain").
LEGACY_VALUES: dict[str, object] = {
    "title_coding": "stored",
    "apply_map": "plain",
    "hire_map": "plain",
    "stay_map": "plain",
    "stay_min_leaf": 20,
    "joint_tails": "clip",
    "history_stages": "none",
    "history_windows": 7,
    "festival_leave": "none",
    "apply_terms": "plain",
    "stay_spells": "window",
    "stay_record": "none",
    "hire_split": "none",
    "stay_l2": STAY_COVARIATE_L2,
    "wage_impute": "none",
}


class ConfigError(ValueError):
    """A configuration value breaks a rule; the message names the field and the rule."""


@dataclass(frozen=True)
class RecommenderConfig:
    """Hyper-parameters of the Recommender; see its docstring for each one's meaning.

    Raises
    ------
    ConfigError
        On construction, when a value has the wrong type or breaks its rule.
    """

    stages: str = "full"
    no_components: int = 32
    epochs: int = 20
    learning_rate: float = 0.05
    item_alpha: float = 1e-6
    user_alpha: float = 1e-6
    max_sampled: int = 10
    n_clusters: int = 32
    n_candidates: int = 100
    ranker_holdout: float = 0.3
    ranker_negatives: int = 10
    ranker_max_workers: int = 5000
    ranker_folds: int = 1
    apply_negatives: str = "sampled"
    calibration_share: float = 0.15
    calibration: str = "platt"
    apply_exposure: str = "viewed"
    apply_map: str = "covariates"
    apply_terms: str = "entry"
    stay_map: str = "covariates"
    hire_map: str = "history"
    history_stages: str = "none"
    history_windows: int = 7
    stay_spells: str = "window"
    stay_record: str = "none"
    hire_split: str = "none"
    festival_leave: str = "none"
    stay_l2: float = STAY_COVARIATE_L2
    wage_impute: str = "peers"
    stay_weeks: int = 26
    max_iter: int = 100
    ranker_learning_rate: float = 0.1
    stay_min_leaf: int = 20
    joint_tails: str = "exact"
    lang: str = "zh"
    title_coding: str = "stored"
    random_state: int = 0

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            kind = f.type if isinstance(f.type, str) else f.type.__name__
            # numpy scalars are accepted and stored as plain Python numbers (JSON)
            if kind == "int":
                if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                    raise ConfigError(f"{f.name} must be an integer, got {value!r}")
                object.__setattr__(self, f.name, int(value))
            if kind == "float":
                if isinstance(value, bool) or not isinstance(value, numbers.Real):
                    raise ConfigError(f"{f.name} must be a number, got {value!r}")
                object.__setattr__(self, f.name, float(value))
            if kind == "str" and not isinstance(value, str):
                raise ConfigError(f"{f.name} must be a string, got {value!r}")
        for name, choices in _CHOICES.items():
            if getattr(self, name) not in choices:
                raise ConfigError(
                    f"{name} must be one of {', '.join(choices)}, got {getattr(self, name)!r}"
                )
        if self.stay_spells == "earlier" and self.hire_map != "history":
            raise ConfigError(
                f"stay_spells='earlier' reads the history windows of hire_map='history', got "
                f"hire_map={self.hire_map!r}; set hire_map='history' or stay_spells='window'"
            )
        if self.stay_record != "none" and self.stay_map != "covariates":
            raise ConfigError(
                f"stay_record={self.stay_record!r} is a covariate of stay_map='covariates', got "
                f"stay_map={self.stay_map!r}; set stay_map='covariates' or stay_record='none'"
            )
        if self.hire_split != "none" and self.hire_map not in ("covariates", "history"):
            raise ConfigError(
                f"hire_split={self.hire_split!r} splits the hire regression of hire_map "
                f"'covariates' or 'history', got hire_map={self.hire_map!r}; set one of those "
                f"or hire_split='none'"
            )
        for name in _AT_LEAST_ONE:
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, got {getattr(self, name)!r}")
        for name in _POSITIVE:
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name} must be above 0, got {getattr(self, name)!r}")
        for name in _NOT_NEGATIVE:
            if not getattr(self, name) >= 0:
                raise ConfigError(f"{name} must be 0 or more, got {getattr(self, name)!r}")
        for name, zero_ok in _SHARES.items():
            value = getattr(self, name)
            low_ok = value >= 0 if zero_ok else value > 0
            if not (low_ok and value < 1):
                low = "0 <=" if zero_ok else "0 <"
                raise ConfigError(f"{name} must be a share ({low} x < 1), got {value!r}")

    def to_json(self) -> dict[str, Any]:
        """The config as plain JSON values (``json.dumps`` takes it as it is)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: Any) -> RecommenderConfig:
        """The config of :meth:`to_json` output. A key left out takes the value an
        artifact written before it existed means (:data:`LEGACY_VALUES`), else its default.

        Raises
        ------
        ConfigError
            ``data`` is not an object, names an unknown field, or a value breaks a rule.
        """
        if not isinstance(data, dict):
            raise ConfigError(f"a Recommender config is a JSON object, got {type(data).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(
                f"unknown Recommender config field(s) {', '.join(unknown)}; known fields are "
                f"{', '.join(sorted(known))}"
            )
        values: dict[str, Any] = {**LEGACY_VALUES, **data}
        return cls(**values)
