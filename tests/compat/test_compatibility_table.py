"""docs/compatibility.md stays true: one row per contract operation, and each row's status
matches what the app really does with that operation (a real route, or the 501 stand-in).

When an operation starts or stops being served, these tests fail with the exact rows to edit.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from starlette.routing import Match

from engram.api.app import create_app
from engram.api.contract_paths import CONTRACT_PATHS, ContractPath
from engram.api.routes.unserved import NO_RETRY, contract_path_of, not_implemented_detail
from engram.config import Settings
from tests.compat import test_agents, test_auto_pagination

TABLE = Path(__file__).resolve().parents[2] / "docs" / "compatibility.md"
STATUSES = ("served", "partial", "not yet")
_ROW = re.compile(
    r"^\|\s*(?P<method>[A-Z]+)\s*\|\s*`(?P<path>[^`]+)`\s*\|\s*(?P<status>[^|]*?)\s*\|"
    r"(?P<notes>.*)\|\s*$"
)
_PARAMETER = re.compile(r"\{[^}/]+\}")
_SUMMARY = re.compile(r"^Summary: .*$", re.MULTILINE)


@dataclass(frozen=True)
class Row:
    method: str
    path: str
    status: str
    line: int
    notes: str = ""

    @property
    def key(self) -> tuple[str, str]:
        return self.method, self.path

    def markdown(self, status: str | None = None) -> str:
        return f"| {self.method} | `{self.path}` | {status or self.status} | ... |"


def table_rows() -> list[Row]:
    rows = []
    for number, line in enumerate(TABLE.read_text().splitlines(), start=1):
        match = _ROW.match(line)
        if match:
            rows.append(
                Row(match["method"], match["path"], match["status"], number, match["notes"])
            )
    return rows


def handler_for(app: FastAPI, method: str, path: str) -> object | None:
    """The endpoint the app would run for ``method path`` (parameters filled in), or None."""
    url = _PARAMETER.sub("sample-id", path)
    scope = {"type": "http", "method": method, "path": url, "root_path": "", "headers": []}
    for route in iter_route_contexts(app.routes):
        match, _ = route.matches(scope)
        if match == Match.FULL:
            return route.endpoint
    return None


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    """The real app, built in-process and never started: only its routing is inspected."""
    return create_app(Settings(data_dir=tmp_path_factory.mktemp("table-app"), api_key=None))


def test_table_has_one_row_per_contract_operation() -> None:
    rows = table_rows()
    contract = {(op.method, op.path): op for op in CONTRACT_PATHS}
    seen: dict[tuple[str, str], Row] = {}
    problems = []
    for row in rows:
        if row.key not in contract:
            problems.append(f"line {row.line}: {row.method} {row.path} is no contract path")
        elif row.key in seen:
            problems.append(
                f"line {row.line}: {row.method} {row.path} repeats line {seen[row.key].line}"
            )
        else:
            seen[row.key] = row
        if row.status not in STATUSES:
            problems.append(f"line {row.line}: status '{row.status}' is not one of {STATUSES}")
    for key, op in contract.items():
        if key not in seen:
            problems.append(f"missing row: | {op.method} | `{op.path}` | <status> | <notes> |")

    if problems:
        pytest.fail(f"{TABLE} disagrees with the contract:\n" + "\n".join(problems), pytrace=False)


def test_summary_line_counts_the_rows() -> None:
    rows = table_rows()
    count = {status: sum(row.status == status for row in rows) for status in STATUSES}
    expected = (
        f"Summary: {count['served'] + count['partial']} served or partial "
        f"({count['served']} served, {count['partial']} partial), "
        f"{count['not yet']} not yet, {len(rows)} in all."
    )

    found = _SUMMARY.search(TABLE.read_text())
    if found is None or found.group() != expected:
        pytest.fail(f"in {TABLE}, write the summary line as:\n{expected}", pytrace=False)


def test_table_status_matches_what_the_app_serves(app: FastAPI) -> None:
    changes = []
    for row in table_rows():
        handler = handler_for(app, row.method, row.path)
        if handler is None:
            changes.append(f"line {row.line}: {row.method} {row.path} reaches no route at all")
            continue
        served = contract_path_of(handler) is None
        if served and row.status == "not yet":
            changes.append(
                f"line {row.line}: a route serves it now; mark it served or partial:\n"
                f"    {row.markdown('served')}"
            )
        elif not served and row.status != "not yet":
            changes.append(
                f"line {row.line}: no route serves it (it answers 501); mark it not yet:\n"
                f"    {row.markdown('not yet')}"
            )

    if changes:
        pytest.fail(f"update {TABLE}:\n" + "\n".join(changes), pytrace=False)


@pytest.mark.parametrize("operation", CONTRACT_PATHS, ids=str)
async def test_every_contract_operation_is_served_or_answers_501_naming_itself(
    app: FastAPI, operation: ContractPath
) -> None:
    handler = handler_for(app, operation.method, operation.path)

    assert handler is not None, f"{operation} reaches no route: a client would get a 404"
    if contract_path_of(handler) is None:
        return
    assert contract_path_of(handler) == operation
    response = await handler()  # type: ignore[operator]
    assert response.status_code == 501
    assert json.loads(response.body) == {"detail": not_implemented_detail(operation)}
    assert response.headers["x-should-retry"] == NO_RETRY["x-should-retry"]


def test_rows_claiming_auto_pagination_are_held_by_a_test() -> None:
    """A row saying what the SDK's auto-pagination does names a test that drives it."""
    held = {
        **{row: getattr(test_auto_pagination, name) for row, name in
           test_auto_pagination.HELD_ROWS.items()},
        ("GET", "/v1/agents/"): test_agents.test_list_auto_pagination_visits_every_agent_once,
    }  # fmt: skip
    claims = [row for row in table_rows() if "auto-pagination" in row.notes]
    unheld = [f"line {row.line}: {row.method} {row.path}" for row in claims if row.key not in held]

    assert claims, "the table no longer states any auto-pagination behaviour"
    assert not unheld, (
        "rows claim an auto-pagination behaviour no test drives; add a test to "
        "tests/compat/test_auto_pagination.py and its HELD_ROWS:\n" + "\n".join(unheld)
    )
