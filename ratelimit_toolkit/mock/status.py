"""The status page: each scope's counts and remaining budget, large enough for a projector.

`render_status_page` turns what `MockState.status()` returns (and `GET
/v1/status` sends as JSON) into one HTML page that reloads itself. Headings
are bilingual, Korean first. Every value from a request (organisation ids,
masked keys) is HTML-escaped, because anyone who can reach the server can
choose them.
"""

from __future__ import annotations

from html import escape
from typing import Any

#: Seconds between the page's automatic reloads.
REFRESH_SECONDS = 3

#: Scope rows the page shows: the most recently used ones. `GET /v1/status` has them all.
MAX_ROWS_SHOWN = 200

_SCOPE_DESCRIPTIONS = {
    "server": "모든 요청이 버킷 한 쌍을 함께 씁니다 · All requests share one pair of buckets",
    "key": "API 키마다 버킷이 따로 있습니다 · Each API key has its own buckets",
    "organization": "조직마다 버킷이 따로 있고, 조직의 키가 함께 씁니다 · Each organization has its own buckets, shared by its keys",
}
_NAME_HEADINGS = {"server": "범위 · Scope", "key": "API 키 · API key", "organization": "조직 · Organization"}
_DETAIL_HEADINGS = {"server": "API 키 · API keys", "key": "조직 · Organization", "organization": "API 키 · API keys"}

_STYLE = """
body { font-family: system-ui, "Noto Sans KR", "Malgun Gothic", sans-serif; font-size: 1.4rem; margin: 1.5rem; }
h1 { font-size: 2rem; margin: 0 0 .5rem; }
table { border-collapse: collapse; margin: 1rem 0; }
th, td { padding: .3rem .8rem; border-bottom: 1px solid #bbb; text-align: right; }
th { font-size: 1rem; vertical-align: bottom; }
.text { text-align: left; }
.keys { font-size: 1rem; max-width: 24rem; }
tr.limited td { color: #b00020; font-weight: bold; }
.note { font-size: 1rem; color: #555; }
"""


def render_status_page(status: dict[str, Any]) -> str:
    """Build the HTML status page from a `MockState.status()` result.

    Rows for scopes whose request or token bucket is empty now are shown in red.
    """
    scope = status["limit_scope"]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="ko">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="refresh" content="{REFRESH_SECONDS}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>속도 제한 현황 · Rate limit status</title>",
        f"<style>{_STYLE}</style>",
        "</head>",
        "<body>",
        "<h1>속도 제한 현황 · Rate limit status</h1>",
        f"<p>{_limits_line(status)}</p>",
        f"<p>{escape(_SCOPE_DESCRIPTIONS[scope])}</p>",
        _table(scope, status["scopes"]),
        *_notes(status),
        "</body>",
        "</html>",
    ]
    return "\n".join(parts) + "\n"


def _limits_line(status: dict[str, Any]) -> str:
    return (
        f"분당 요청 수 (RPM) {status['rpm']:,} · "
        f"분당 토큰 수 (TPM) {status['tpm']:,} · "
        f"버스트 (burst) {status['burst_seconds']:g}초 (s)"
    )


def _table(scope: str, rows: list[dict[str, Any]]) -> str:
    if not rows:
        return '<p class="text">아직 요청이 없습니다 · No requests yet</p>'

    headings = [
        "#",
        _NAME_HEADINGS[scope],
        _DETAIL_HEADINGS[scope],
        "허용된 요청 · Admitted",
        "429 응답 · 429s",
        "최근 1분 토큰 · Tokens, last minute",
        "남은 요청 · Requests left",
        "남은 토큰 · Tokens left",
    ]
    text_columns = {1, 2}
    head = "".join(f'<th class="text">{escape(h)}</th>' if i in text_columns else f"<th>{escape(h)}</th>" for i, h in enumerate(headings))
    body = "\n".join(_row(row) for row in _rows_shown(rows))
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>"


def _rows_shown(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Keep the most recently used rows, in order of first use."""
    if len(rows) <= MAX_ROWS_SHOWN:
        return rows
    recent = sorted(rows, key=lambda row: row["idle_seconds"])[:MAX_ROWS_SHOWN]
    return sorted(recent, key=lambda row: row["number"])


def _row(row: dict[str, Any]) -> str:
    name = "서버 전체 · whole server" if row["kind"] == "server" else row["name"]
    detail = row["organization"] if row["kind"] == "key" else ", ".join(row["keys"])
    limited = row["remaining_requests"] == 0 or row["remaining_tokens"] == 0
    cells = [
        f"<td>{row['number']}</td>",
        f'<td class="text">{escape(name)}</td>',
        f'<td class="text keys">{escape(detail)}</td>',
        f"<td>{row['admitted']:,}</td>",
        f"<td>{row['refused_429']:,}</td>",
        f"<td>{row['tokens_last_minute']:,}</td>",
        f"<td>{row['remaining_requests']:,} / {row['rpm']:,}</td>",
        f"<td>{row['remaining_tokens']:,} / {row['tpm']:,}</td>",
    ]
    row_class = ' class="limited"' if limited else ""
    return f"<tr{row_class}>{''.join(cells)}</tr>"


def _notes(status: dict[str, Any]) -> list[str]:
    scopes = status["scopes"]
    notes = []
    if len(scopes) > MAX_ROWS_SHOWN:
        hidden = len(scopes) - MAX_ROWS_SHOWN
        notes.append(f"최근에 쓰지 않은 {hidden:,}개는 생략했습니다 · {hidden:,} less recently used not shown (see /v1/status)")
    if status["scopes_dropped"]:
        dropped = status["scopes_dropped"]
        notes.append(
            f"최대 {status['max_scopes']:,}개만 보관하므로 {dropped:,}개를 지웠습니다 · "
            f"At most {status['max_scopes']:,} are kept, so {dropped:,} were dropped"
        )
    notes.append("키는 앞뒤 몇 글자만 보입니다 · Keys show only a few characters at each end")
    notes.append(f"{REFRESH_SECONDS}초마다 새로 고칩니다 · This page reloads every {REFRESH_SECONDS} seconds")
    return [f'<p class="note">{escape(note)}</p>' for note in notes]
