"""The project's occupation coder: which trained model codes titles, loaded once per process.

``jobmatch occupation train`` writes ``<JOBMATCH_MODEL_DIR>/occupation/occupation_model.joblib``
(the labelled titles that ship in ``matcher/data/occupation_titles.csv`` plus the officers'
stored corrections). When no such file exists the model that ships in the repository
(``matcher/data/occupation_model.joblib``) is used. Nothing is downloaded.
"""

from __future__ import annotations

import threading
from pathlib import Path

from matcher.occupations.classifier import MODEL_FILE, OccupationClassifier, default_model_file

#: Folder under the model directory that holds the occupation model.
OCCUPATION_DIR = "occupation"

_lock = threading.Lock()
_coder: OccupationClassifier | None = None
_coder_key: tuple[Path, float] | None = None


def trained_model_path(model_dir: Path) -> Path:
    """Where ``jobmatch occupation train`` writes the model for ``model_dir``."""
    return Path(model_dir) / OCCUPATION_DIR / MODEL_FILE


def model_path(model_dir: Path | None = None) -> Path:
    """The model the service uses: the trained one when present, else the shipped one."""
    if model_dir is None:
        from service.settings import get_settings

        model_dir = get_settings().model_dir
    trained = trained_model_path(model_dir)
    return trained if trained.is_file() else default_model_file()


def occupation_coder(model_dir: Path | None = None) -> OccupationClassifier:
    """The occupation classifier, loaded once per process (reloaded if retrained)."""
    global _coder, _coder_key
    path = model_path(model_dir)
    key = (path, path.stat().st_mtime)
    with _lock:
        if _coder is None or _coder_key != key:
            _coder = OccupationClassifier.load(path)
            _coder_key = key
        return _coder


def forget_loaded_coder() -> None:
    """Drop the loaded model (after ``jobmatch occupation train`` wrote a new one)."""
    global _coder, _coder_key
    with _lock:
        _coder = None
        _coder_key = None
