"""append_section: a later tool's figure lands in report.html once, self-contained."""

from __future__ import annotations

from training.report import append_section


def test_append_section_embeds_and_replaces(tmp_path):
    page = tmp_path / "report.html"
    page.write_text("<!doctype html><html><body><h1>m</h1>\n</body></html>", encoding="utf-8")
    png = b"\x89PNG\r\n\x1a\nfake"
    append_section(page, "Against the truth", "ECE 0.5 <bad>", png)
    append_section(page, "Against the truth", "ECE 0.01", png)
    text = page.read_text(encoding="utf-8")
    assert text.count("<h2>Against the truth</h2>") == 1
    assert "ECE 0.01" in text and "ECE 0.5" not in text
    assert "data:image/png;base64," in text
    assert text.rstrip().endswith("</body></html>")
    append_section(page, "Other", "no picture")
    assert text.count("<img") == page.read_text(encoding="utf-8").count("<img")
