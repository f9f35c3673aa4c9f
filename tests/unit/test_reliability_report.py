"""`make reliability` writes its figures under .reliability/; only PUBLISH=1 rewrites the tracked document."""

from __future__ import annotations

import pytest

from devtools import reliability_report
from devtools.reliability_report import BEGIN, END, Run

RUN = Run(
    figures={"rows.lost": 0, "bad_input.requests": 7},
    examples=5,
    tests=3,
    failures=0,
    skipped=0,
    seconds=1.0,
    exit_status=0,
)


@pytest.fixture
def files(tmp_path, monkeypatch):
    document = tmp_path / "docs" / "reliability.md"
    document.parent.mkdir()
    document.write_text(f"intro\n{BEGIN}\nold figures\n{END}\nrest\n", encoding="utf-8")
    report = tmp_path / ".reliability" / "report.md"
    monkeypatch.setattr(reliability_report, "REPO_ROOT", tmp_path)
    monkeypatch.setattr(reliability_report, "DOCUMENT", document)
    monkeypatch.setattr(reliability_report, "REPORT", report)
    monkeypatch.setattr(reliability_report, "run_suite", lambda examples: RUN)
    return document, report


def test_a_run_writes_its_report_and_leaves_the_published_figures_alone(files, capsys):
    document, report = files
    before = document.read_text(encoding="utf-8")
    assert reliability_report.main(["--examples", "5"]) == 0
    assert document.read_text(encoding="utf-8") == before
    assert "| Inputs tried (bad input, through the real handler) | 7 |" in report.read_text(encoding="utf-8")
    assert capsys.readouterr().out.endswith(
        "figures written to .reliability/report.md (PUBLISH=1 writes them to docs/reliability.md)\n"
    )


def test_publish_rewrites_the_document_between_its_markers(files):
    document, report = files
    assert reliability_report.main(["--publish"]) == 0
    text = document.read_text(encoding="utf-8")
    assert text.startswith(f"intro\n{BEGIN}") and text.endswith(f"{END}\nrest\n")
    assert "old figures" not in text and "| 7 |" in text
    assert not report.exists()


def test_a_failed_run_writes_nothing(files, monkeypatch):
    document, report = files
    before = document.read_text(encoding="utf-8")
    monkeypatch.setattr(reliability_report, "run_suite", lambda examples: Run({}, 5, 3, 1, 0, 1.0, 1))
    assert reliability_report.main(["--publish"]) == 1
    assert document.read_text(encoding="utf-8") == before
    assert not report.exists()
