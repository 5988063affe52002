"""The targets file and the resumable JSON-lines output: parsing, duplicates, resume, repair,
refusal of files that are not ours."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from auditor.batch.output import OutputFileError, ReportLog
from auditor.batch.targets import read_targets

DID = "did:plc:7qtopzyh5e4v6gtdvcozotp3"


def report_line(target: str, **extra: object) -> str:
    line = {"schema_version": "1", "tool_version": "0", "target": target, "band": None, **extra}
    return json.dumps(line)


def test_targets_skip_comments_blanks_and_duplicates() -> None:
    parsed = read_targets(
        [
            "# accounts we track",
            "alice.bsky.social",
            "",
            "  @Alice.BSKY.social   # the same account, written differently",
            f"at://{DID}/app.bsky.feed.post/3k",
            DID,
            "https://bsky.app/profile/bob.test",
        ]
    )
    assert [(t.line, t.key) for t in parsed.targets] == [
        (2, "alice.bsky.social"),
        (5, DID),
        (7, "bob.test"),
    ]
    assert parsed.duplicates == 2
    assert parsed.errors == []


def test_bad_target_lines_are_reported_with_their_number_and_skipped() -> None:
    parsed = read_targets(["alice.bsky.social", "not a handle", "did:fake:123", "bob.test"])
    assert [t.key for t in parsed.targets] == ["alice.bsky.social", "bob.test"]
    assert [e.split(":", 1)[0] for e in parsed.errors] == ["line 2", "line 3"]
    assert "'not a handle'" in parsed.errors[0]


def test_a_huge_bad_line_is_clipped_in_the_message() -> None:
    parsed = read_targets(["x" * 10_000 + " y"])
    assert len(parsed.errors) == 1
    assert len(parsed.errors[0]) < 400


def test_the_log_appends_whole_lines_and_resumes(tmp_path: Path) -> None:
    path = tmp_path / "out" / "reports.jsonl"
    log = ReportLog(path)
    assert log.resume() == set()
    log.append(report_line("alice.bsky.social"))
    log.append(report_line(DID) + "\n")
    log.close()
    assert path.read_text(encoding="utf-8").count("\n") == 2
    again = ReportLog(path)
    assert again.resume() == {"alice.bsky.social", DID}


def test_a_cut_short_last_line_is_dropped_on_resume(tmp_path: Path) -> None:
    path = tmp_path / "reports.jsonl"
    whole = report_line("alice.bsky.social") + "\n"
    path.write_text(whole + report_line("bob.test")[:25], encoding="utf-8")
    log = ReportLog(path)
    assert log.resume() == {"alice.bsky.social"}
    assert path.read_text(encoding="utf-8") == whole  # repaired: the next append starts clean
    log.append(report_line("bob.test"))
    log.close()
    lines = path.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["target"] for line in lines] == ["alice.bsky.social", "bob.test"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("name,score\nalice,3\n", "line 1 is not JSON"),
        ('{"hello": "world"}\n', "line 1 is not a decaudit report"),
        (report_line("alice.bsky.social") + "\n[1, 2]\n", "line 2 is not a decaudit report"),
        (report_line("not a target!") + "\n", "line 1 names no valid target"),
        ("\xff\xfe\n", "line 1 is not JSON"),
    ],
)
def test_a_foreign_file_is_refused_and_left_untouched(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "precious.csv"
    path.write_bytes(content.encode("utf-8", "surrogateescape"))
    before = path.read_bytes()
    with pytest.raises(OutputFileError, match=message):
        ReportLog(path).resume()
    assert path.read_bytes() == before
