"""`ratelimit-toolkit --help` in Korean and English, and the Korean help table."""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ratelimit_toolkit import cli_help
from ratelimit_toolkit.cli import build_parser, main
from ratelimit_toolkit.cli_help_ko import GROUP_TITLES, HELP_TEXTS

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = [[], ["serve"], ["process"], ["batch"]]
COMMAND_IDS = ["top", "serve", "process", "batch"]
HANGUL = re.compile("[가-힣]")
# ASCII classes, because Korean particles attach to the option or name before them (`--url로`).
OPTION = re.compile(r"(?<![A-Za-z0-9_-])--?[A-Za-z][A-Za-z0-9_-]*")
NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
UPPER_NAME = re.compile(r"(?<![A-Za-z0-9_])[A-Z][A-Z0-9_]{2,}(?![A-Za-z0-9_])")
SECONDS = re.compile(r"(?<![A-Za-z-])seconds?\b")
#: COLUMNS for every in-process run. argparse wraps help at COLUMNS - 2.
COLUMNS = 100


@pytest.fixture(autouse=True)
def _clean_locale(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("RATELIMIT_TOOLKIT_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("COLUMNS", str(COLUMNS))


def run_help(capsys: pytest.CaptureFixture[str], arguments: list[str]) -> str:
    """Run `main(arguments + ["--help"])` and return what it printed."""
    with pytest.raises(SystemExit) as exit_info:
        main([*arguments, "--help"])
    assert exit_info.value.code == 0
    return capsys.readouterr().out


def usage_words(help_text: str, prefix: str) -> list[str]:
    """Split the usage paragraph, without its prefix, into words."""
    usage = help_text.split("\n\n", 1)[0]
    return usage.removeprefix(prefix).split()


def english_texts() -> dict[tuple[str, str], str]:
    """Map each `(command, key)` of the English parser tree to its text."""
    return {(entry.command, entry.key): entry.text for entry in cli_help.iter_help_entries(build_parser()) if entry.text}


@pytest.mark.parametrize("arguments", COMMANDS, ids=COMMAND_IDS)
def test_korean_help_headings(arguments: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RATELIMIT_TOOLKIT_LANG", "ko")
    output = run_help(capsys, arguments)
    assert output.startswith("사용법: ratelimit-toolkit")
    assert "\n옵션:\n" in output
    assert "이 도움말을 보여 주고 끝냅니다" in output
    assert "usage:" not in output
    assert "show this help message and exit" not in output


@pytest.mark.parametrize(
    ("arguments", "korean"),
    [
        pytest.param([], "OpenAI API의 속도 제한에 대처하는 도구입니다", id="top-description"),
        pytest.param([], "\n위치 인수:\n", id="top-positionals"),
        pytest.param([], "배치 API로 실행하고", id="top-batch"),
        pytest.param(["serve"], "허용하는 분당 요청 수 (기본값: 60)", id="serve-rpm"),
        pytest.param(["serve"], "허용하는 분당 토큰 수 (기본값: 150000)", id="serve-tpm"),
        pytest.param(["serve"], "한 번의 버스트로", id="serve-burst"),
        pytest.param(["serve"], "\n주소와 속도 제한:\n", id="serve-group"),
        pytest.param(["serve"], "429 insufficient_quota(할당량 부족)로 응답합니다", id="serve-quota"),
        pytest.param(["process"], "이어서 처리합니다", id="process-resume"),
        pytest.param(["process"], "분당 토큰 수 한도", id="process-tpm"),
        pytest.param(["process"], "HTTP 호출 한 번의 제한 시간(초) (기본값 120)", id="process-timeout"),
        pytest.param(["batch"], "배치 API 파일로", id="batch-description"),
        pytest.param(["batch"], "\n파일 나누기:\n", id="batch-group"),
        pytest.param(["batch"], "상태 확인 사이의 최대 대기 시간(초) (기본값: 60)", id="batch-poll"),
    ],
)
def test_korean_help_option_texts(
    arguments: list[str], korean: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RATELIMIT_TOOLKIT_LANG", "ko")
    assert korean in run_help(capsys, arguments)


@pytest.mark.parametrize("arguments", COMMANDS, ids=COMMAND_IDS)
def test_english_help_under_c_locale(arguments: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANG", "C.UTF-8")
    output = run_help(capsys, arguments)
    assert output.startswith("usage: ratelimit-toolkit")
    assert "show this help message and exit" in output
    assert HANGUL.search(output) is None


def test_korean_help_from_lang_locale() -> None:
    environment = {name: value for name, value in os.environ.items() if name not in ("LC_ALL", "LC_MESSAGES", "RATELIMIT_TOOLKIT_LANG")}
    environment.update(LANG="ko_KR.UTF-8", COLUMNS=str(COLUMNS), PYTHONIOENCODING="utf-8")
    completed = subprocess.run(
        [sys.executable, "-m", "ratelimit_toolkit.cli", "serve", "--help"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        encoding="utf-8",
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.startswith("사용법: ratelimit-toolkit serve")
    assert "허용하는 분당 요청 수" in completed.stdout


def test_lang_option_before_command(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANG", "C.UTF-8")
    assert run_help(capsys, ["--lang", "ko", "serve"]).startswith("사용법: ")


def test_lang_option_overrides_environment(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RATELIMIT_TOOLKIT_LANG", "ko")
    assert run_help(capsys, ["--lang=en", "process"]).startswith("usage: ")


def test_lang_option_after_command(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANG", "C.UTF-8")
    assert run_help(capsys, ["process", "--lang", "ko"]).startswith("사용법: ")


def test_unsupported_environment_language_gives_english(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RATELIMIT_TOOLKIT_LANG", "fr")
    assert run_help(capsys, ["serve"]).startswith("usage: ")


@pytest.mark.parametrize("arguments", COMMANDS, ids=COMMAND_IDS)
def test_korean_help_keeps_every_option(arguments: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    english = run_help(capsys, arguments)
    monkeypatch.setenv("RATELIMIT_TOOLKIT_LANG", "ko")
    korean = run_help(capsys, arguments)

    command = " ".join(arguments)
    parser_options = {
        option
        for entry in cli_help.iter_help_entries(build_parser())
        if entry.command == command and isinstance(entry.target, argparse.Action)
        for option in entry.target.option_strings
    }
    assert parser_options <= set(OPTION.findall(korean))
    assert set(OPTION.findall(korean)) == set(OPTION.findall(english))
    assert usage_words(korean, "사용법: ") == usage_words(english, "usage: ")


@pytest.mark.parametrize("arguments", COMMANDS, ids=COMMAND_IDS)
def test_korean_help_fits_terminal_width(arguments: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RATELIMIT_TOOLKIT_LANG", "ko")
    korean_lines = [line for line in run_help(capsys, arguments).splitlines() if HANGUL.search(line)]
    too_wide = [line for line in korean_lines if cli_help.display_width(line) > COLUMNS - 2]
    assert too_wide == []


def test_option_without_korean_text_stays_english() -> None:
    parser = build_parser()
    process = dict(cli_help.iter_parsers(parser))["process"]
    process.add_argument("--brand-new", metavar="N", help="an option added after the Korean table")
    process.add_argument("--hidden", help=argparse.SUPPRESS)

    cli_help.localize_parser(parser, "ko")
    output = process.format_help()
    assert "--brand-new N" in output
    assert "an option added after the Korean table" in output
    assert "분당 요청 수 한도" in output
    assert "--hidden" not in output


def test_english_localization_changes_nothing() -> None:
    parser = build_parser()
    before = [(entry.command, entry.key, entry.text) for entry in cli_help.iter_help_entries(parser)]
    cli_help.localize_parser(parser, "en")
    after = [(entry.command, entry.key, entry.text) for entry in cli_help.iter_help_entries(parser)]
    assert after == before


def test_custom_formatter_kept() -> None:
    parser = argparse.ArgumentParser(prog="tool", formatter_class=argparse.RawDescriptionHelpFormatter)
    cli_help.localize_parser(parser, "ko")
    assert parser.formatter_class is argparse.RawDescriptionHelpFormatter


def test_wrap_by_display_width_counts_hangul_double() -> None:
    assert cli_help.wrap_by_display_width("가나 다라 ab", 5) == ["가나", "다라", "ab"]


def test_wrap_by_display_width_keeps_long_word() -> None:
    assert cli_help.wrap_by_display_width("see https://example.invalid/long/path now", 10) == [
        "see",
        "https://example.invalid/long/path",
        "now",
    ]


def test_help_entry_keys_unique() -> None:
    keys = [(entry.command, entry.key) for entry in cli_help.iter_help_entries(build_parser()) if entry.text]
    assert len(keys) == len(set(keys))


@pytest.mark.parametrize("key", sorted(HELP_TEXTS), ids=str)
def test_table_key_names_existing_text(key: tuple[str, str]) -> None:
    assert key in english_texts()


@pytest.mark.parametrize("title", sorted(GROUP_TITLES))
def test_group_title_names_existing_group(title: str, capsys: pytest.CaptureFixture[str]) -> None:
    outputs = [run_help(capsys, arguments) for arguments in COMMANDS]
    assert any(f"\n{title}:\n" in output for output in outputs)


@pytest.mark.parametrize("key", sorted(HELP_TEXTS), ids=str)
def test_korean_text_keeps_names_and_numbers(key: tuple[str, str]) -> None:
    english = english_texts()[key]
    korean = HELP_TEXTS[key]
    assert set(OPTION.findall(english)) <= set(OPTION.findall(korean))
    assert set(NUMBER.findall(english)) <= set(NUMBER.findall(korean))
    assert set(UPPER_NAME.findall(english)) <= set(UPPER_NAME.findall(korean))
    assert SECONDS.search(english) is None or "초" in korean
