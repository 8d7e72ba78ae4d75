"""docs/data-contract.md documents every field of the contract, with its allowed values."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from matcher.data.schema import CONTRACT

DOC = Path(__file__).resolve().parents[2] / "docs" / "data-contract.md"


def table_section(text: str, table: str) -> str:
    match = re.search(rf"^### {table}\n(.*?)(?=^#)", text, re.S | re.M)
    assert match, f"no '### {table}' section in {DOC.name}"
    return match.group(1)


@pytest.mark.parametrize("table", list(CONTRACT))
def test_every_field_is_documented_with_its_choices(table):
    section = table_section(DOC.read_text(encoding="utf-8"), table)
    rows = {m.group(1): m.group(0) for m in re.finditer(r"^\| `(\w+)` \|.*$", section, re.M)}
    assert list(rows) == CONTRACT[table].columns
    for spec in CONTRACT[table].fields:
        row = rows[spec.name]
        assert ("**yes**" in row) == spec.required, spec.name
        for choice in spec.choices:
            assert f"`{choice}`" in row, (spec.name, choice)


@pytest.mark.parametrize("table", list(CONTRACT))
def test_every_text_limit_is_documented(table):
    section = table_section(DOC.read_text(encoding="utf-8"), table)
    rows = {m.group(1): m.group(0) for m in re.finditer(r"^\| `(\w+)` \|.*$", section, re.M)}
    for spec in CONTRACT[table].fields:
        documented = re.search(r"≤ (\d+) characters", rows[spec.name])
        assert (int(documented.group(1)) if documented else None) == spec.max_length, spec.name
