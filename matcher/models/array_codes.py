"""Codes of the catalogue's arrays, computed once per array.

A request reads functions of a few vacancy columns (region codes, language sets,
occupation keys, coordinates) for hundreds of pairs; the catalogue's arrays are replaced,
never changed in place, when it changes, so each array's integer codes
(:func:`value_codes`) and distinct rows (:func:`distinct_rows`) are computed once and
kept with a weak reference to the array. The pair features
(:mod:`matcher.models.features`) and the candidate generator
(:mod:`matcher.models.retrieval`) both read them; this module imports nothing of
``matcher``, so neither imports the other for them.
"""

from __future__ import annotations

import weakref

import numpy as np
import pandas as pd

#: id of an object array of codes -> (a weak reference to it, its integer codes, code of
#: each distinct value): :func:`value_codes` factorizes each array once
_CODES: dict[int, tuple[weakref.ref, np.ndarray, dict]] = {}


def value_codes(values: np.ndarray) -> tuple[np.ndarray, dict]:
    """Integer codes of an object array (-1 for a missing value; ``pd.factorize``'s, in
    order of first appearance) and the code of each distinct value, computed once per
    array (the catalogue's arrays are replaced, never changed in place, when it
    changes)."""
    key = id(values)
    hit = _CODES.get(key)
    if hit is not None and hit[0]() is values and len(hit[1]) == len(values):
        return hit[1], hit[2]
    codes, uniques = pd.factorize(np.asarray(values, dtype=object), use_na_sentinel=True)
    by_value = {u: i for i, u in enumerate(uniques.tolist())}

    def forget(_: object) -> None:  # the array is gone: its id may be reused
        _CODES.pop(key, None)

    _CODES[key] = (weakref.ref(values, forget), codes, by_value)
    return codes, by_value


#: id of a catalogue array -> (a weak reference to it, its distinct rows, each row's
#: index among them): :func:`distinct_rows` computes each array's once
_DISTINCT: dict[int, tuple[weakref.ref, np.ndarray, np.ndarray]] = {}


def distinct_rows(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows of a catalogue array (its vacancies' coordinates, occupation
    keys, channel one-hot) and each row's index among them, computed once per array
    (the catalogue's arrays are replaced, never changed in place, when it changes).

    A request computes a function of such a vacancy column (distance from the worker,
    occupation match level) once per distinct value and gathers it: a province's
    100,000 vacancies stand at a few hundred places and occupations. The values are the
    same numbers as computed row by row (the same operations on the same inputs; rows
    are distinct by their bytes).

    Returns
    -------
    distinct : numpy.ndarray
        ``(n_distinct, ...)``, rows of ``values``.
    index : numpy.ndarray of intp
        ``(len(values),)``: ``distinct[index]`` is ``values``, byte for byte.
    """
    key = id(values)
    hit = _DISTINCT.get(key)
    if hit is not None and hit[0]() is values and len(hit[2]) == len(values):
        return hit[1], hit[2]
    flat = np.ascontiguousarray(values).reshape(len(values), -1)
    rows = flat.view(np.dtype((np.void, flat.dtype.itemsize * max(flat.shape[1], 1))))
    _, first, index = np.unique(rows.ravel(), return_index=True, return_inverse=True)
    distinct = np.ascontiguousarray(values[first])
    index = index.reshape(-1).astype(np.intp)

    def forget(_: object) -> None:  # the array is gone: its id may be reused
        _DISTINCT.pop(key, None)

    _DISTINCT[key] = (weakref.ref(values, forget), distinct, index)
    return distinct, index
