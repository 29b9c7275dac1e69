"""The tokens file: its format, its errors (line and problem, never the token), names, reloading."""
from __future__ import annotations

import logging

import pytest

from halyard.api.tokens import Grant, TokenFile, default_name, job_path, parse_tokens
from halyard.errors import ValidationError


def test_lines_old_and_new():
    book = parse_tokens("# who may do what\n"
                        "adm-1 rw\n"
                        "view-2 ro   # a comment\n"
                        "\n"
                        "ci-3 rw /team-a/ name=ci-team-a\n"
                        "both-4 rw /team-a/ /team-b/\n"
                        "old-5 rw release-bot\n"
                        "look-6 ro /team-b/ name=viewer-b\n")
    assert book.grant("adm-1") == Grant(default_name("adm-1"), "rw")
    assert book.grant("view-2") == Grant(default_name("view-2"), "ro")
    assert book.grant("ci-3") == Grant("ci-team-a", "rw", ("/team-a/",))
    assert book.grant("both-4") == Grant(default_name("both-4"), "rw", ("/team-a/", "/team-b/"))
    assert book.grant("old-5") == Grant("release-bot", "rw")   # the older TOKEN rw NAME
    assert book.grant("look-6") == Grant("viewer-b", "ro", ("/team-b/",))
    assert book.grant("nope") is None and len(book) == 6


def test_a_default_name_is_a_short_hash_never_the_token():
    name = default_name("s3cr3t-token-value")
    assert name.startswith("token-") and len(name) == 14 and "s3cr3t" not in name
    assert name == default_name("s3cr3t-token-value") != default_name("other")


@pytest.mark.parametrize("line, problem", [
    ("tok", "expected 'rw' or 'ro' after the token, got nothing"),
    ("tok admin", "expected 'rw' or 'ro' after the token, got 'admin'"),
    ("tok rw team-a/ name=x", "'team-a/' is not an id prefix: prefixes start with '/'"),
    ("tok rw /a/ b", "'b' is not an id prefix"),
    ("tok rw /a/ name=", "name= needs a value"),
    ("tok rw name=a name=b", "name= is given twice"),
    ("tok rw /a/ role=x", "unknown setting 'role' (only name=NAME)"),
    ("tok rw /a/ /a/", "prefix /a/ is given twice"),
])
def test_a_bad_line_is_named_with_its_problem(line, problem):
    with pytest.raises(ValidationError) as err:
        parse_tokens(f"good rw\n\n{line}\n", "tokens.txt")
    assert [p.path for p in err.value.problems] == ["line 3"]
    assert problem in err.value.problems[0].message
    assert "tok " not in str(err.value) and "tokens.txt" in str(err.value)


def test_every_bad_line_is_reported_and_a_repeated_token_names_the_first_line():
    with pytest.raises(ValidationError) as err:
        parse_tokens("same rw\nx zz\nsame ro /a/\n")
    assert [str(p) for p in err.value.problems] == [
        "line 2: expected 'rw' or 'ro' after the token, got 'zz' (TOKEN rw|ro [/PREFIX ...] [name=NAME])",
        "line 3: the same token as on line 1"]


def test_scope_covers_ids_under_its_prefixes_and_jobs_as_paths():
    grant = Grant("ci", "rw", ("/team-a/", "/shared/web-"))
    assert grant.covers("/team-a/web") and grant.covers("/team-a/x/y") and grant.covers("/shared/web-1")
    assert not grant.covers("/team-a") and not grant.covers("/team-ab/x") and not grant.covers("/shared/db")
    assert grant.outside(["/team-a/x", "/b/1", "/b/1", "/a"]) == ["/a", "/b/1"]
    assert job_path("team-a.nightly.etl") == "/team-a/nightly/etl" and grant.covers(job_path("team-a.etl"))
    assert Grant("all", "rw").covers("/anything") and not Grant("all", "rw").scoped


def test_reload_takes_new_tokens_and_keeps_the_old_ones_when_the_file_is_bad(tmp_path, caplog):
    path = tmp_path / "tokens"
    path.write_text("one rw\ntwo rw /a/\n")
    held = TokenFile(str(path))
    assert held.book.grant("two") is not None
    path.write_text("one rw\n")               # two revoked
    assert held.reload() is True
    assert held.book.grant("two") is None and held.book.grant("one") is not None
    path.write_text("one rw\nthree rx\n")     # a typo: the tokens in force stay
    with caplog.at_level(logging.ERROR, logger="halyard.api.tokens"):
        assert held.reload() is False
    assert held.book.grant("one") is not None and held.book.grant("three") is None
    assert "line 2: expected 'rw' or 'ro'" in caplog.text and "three" not in caplog.text
    path.unlink()
    assert held.reload() is False and held.book.grant("one") is not None


def test_a_bad_file_stops_the_start(tmp_path):
    path = tmp_path / "tokens"
    path.write_text("one rw /a/ nme=x\n")
    with pytest.raises(ValidationError, match="line 1: unknown setting 'nme'"):
        TokenFile(str(path))


def test_the_scheduler_refuses_a_bad_tokens_file_naming_the_line(tmp_path):
    from click.testing import CliRunner

    from halyard.cli.main import cli

    path = tmp_path / "tokens"
    path.write_text("fine rw\nsecret-value rw team-a/ other\n")
    result = CliRunner().invoke(cli, ["scheduler", "--master", "http://m:5050", "--zk", "zk://z:2181/h",
                                      "--tokens-file", str(path)])
    assert result.exit_code == 2 and "--tokens-file" in result.output
    assert "line 2: 'team-a/' is not an id prefix" in result.output and "secret-value" not in result.output


def test_an_unreadable_tokens_file_is_a_usage_error_not_a_crash(tmp_path):
    import click

    from halyard.cli.scheduler import check_tokens_file

    with pytest.raises(click.BadParameter, match="cannot read it: No such file or directory"):
        check_tokens_file(str(tmp_path / "gone"))
    path = tmp_path / "tokens"
    path.write_text("one rw\ntwo ro /a/\n")
    assert check_tokens_file(str(path)) == 2
