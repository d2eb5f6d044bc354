"""``calsync stats --stack NAME``: the metrics on Athena, from the deployed stack's named queries
(their text is the SQL files', see template.yaml), in its workgroup (scan limit, results bucket).

Named queries cannot hold parameter values; Athena binds the four ``?`` from ``ExecutionParameters``
(SQL literals: ``'2026-11-01 00:00:00.000000'``, ``'acme'`` or ``NULL``) when the text runs through
``StartQueryExecution``, which is what this does with each named query's text. The console does the
same: running a saved query with ``?`` asks for the four values."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from calsync.analytics.metrics import NAMES, MetricWindow
from calsync_dev.analytics.lake import LISTING_ORDER, Result

DONE = {"SUCCEEDED", "FAILED", "CANCELLED"}


class AthenaError(Exception):
    """A query that did not succeed, or a stack without the lake."""


def literal(value: str | None) -> str:
    """One execution parameter as Athena takes it: a SQL literal."""
    return "NULL" if value is None else "'" + value.replace("'", "''") + "'"


@dataclass
class AthenaLake:
    client: Any  # an Athena client
    workgroup: str
    database: str
    sleep: Callable[[float], None] = time.sleep
    poll_seconds: float = 1.0
    _texts: dict[str, str] = field(default_factory=dict)

    def named_queries(self) -> dict[str, str]:
        """The metrics' query text by name, as deployed in the workgroup."""
        if not self._texts:
            ids = [
                qid
                for page in self._pages("list_named_queries", WorkGroup=self.workgroup)
                for qid in page["NamedQueryIds"]
            ]
            for start in range(0, len(ids), 50):
                found = self.client.batch_get_named_query(NamedQueryIds=ids[start : start + 50])["NamedQueries"]
                self._texts.update({q["Name"]: q["QueryString"] for q in found if q["Name"] in NAMES})
        return self._texts

    def run(self, name: str, window: MetricWindow, *, limit: int | None = None) -> Result:
        """The metric ``name`` for ``window``; of a listing only the first ``limit`` rows (by start
        time), and how many there are, in one query."""
        texts = self.named_queries()
        if name not in texts:
            raise AthenaError(f"the workgroup {self.workgroup} has no named query {name}: deploy the stack again")
        text = texts[name].rstrip().rstrip(";")
        listing = limit is not None and name in LISTING_ORDER
        if listing:
            text = (
                f"SELECT *, count(*) OVER () AS total_rows FROM (\n{text}\n) "  # noqa: S608 - the deployed query
                f"ORDER BY {LISTING_ORDER[name]} LIMIT {int(limit or 0)}"
            )
        execution = self.client.start_query_execution(
            QueryString=text,
            QueryExecutionContext={"Database": self.database},
            WorkGroup=self.workgroup,
            ExecutionParameters=[literal(value) for value in window.parameters()],
        )["QueryExecutionId"]
        self._wait(name, execution)
        columns, rows = self._results(execution)
        if listing:
            total = int(rows[0][-1]) if rows else 0
            return Result(name, columns[:-1], [row[:-1] for row in rows], total)
        return Result(name, columns, rows, len(rows))

    def _wait(self, name: str, execution: str) -> None:
        while True:
            status = self.client.get_query_execution(QueryExecutionId=execution)["QueryExecution"]["Status"]
            if status["State"] in DONE:
                break
            self.sleep(self.poll_seconds)
        if status["State"] != "SUCCEEDED":
            reason = status.get("StateChangeReason", status["State"])
            raise AthenaError(f"{name}: {status['State']}: {reason}")

    def _results(self, execution: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        columns: list[str] = []
        types: list[str] = []
        rows: list[tuple[Any, ...]] = []
        for number, page in enumerate(self._pages("get_query_results", QueryExecutionId=execution)):
            result = page["ResultSet"]
            if number == 0:
                info = result["ResultSetMetadata"]["ColumnInfo"]
                columns, types = [c["Name"] for c in info], [c["Type"] for c in info]
            data = result["Rows"][1:] if number == 0 else result["Rows"]  # a SELECT's first row is its header
            rows += [
                tuple(_value(d.get("VarCharValue"), t) for d, t in zip(r["Data"], types, strict=True)) for r in data
            ]
        return columns, rows

    def _pages(self, operation: str, **params: Any) -> Iterator[dict[str, Any]]:
        token: str | None = None
        while True:
            page: dict[str, Any] = getattr(self.client, operation)(**params, **({"NextToken": token} if token else {}))
            yield page
            token = page.get("NextToken")
            if not token:
                return


def _value(text: str | None, kind: str) -> Any:
    """An Athena result cell (always text) as the value DuckDB would have given."""
    if text is None:
        return None
    if kind in ("tinyint", "smallint", "integer", "bigint"):
        return int(text)
    if kind in ("double", "float", "real") or kind.startswith("decimal"):
        return float(text)
    if kind == "boolean":
        return text == "true"
    if kind.startswith("timestamp"):
        return datetime.fromisoformat(text.replace(" UTC", ""))
    if kind == "date":
        return date.fromisoformat(text)
    return text


def from_stack(stack_name: str, session: Any = None) -> AthenaLake:
    """The lake of a deployed stack (its outputs name the workgroup and the Glue database)."""
    if session is None:
        import boto3

        session = boto3.Session()
    stacks = session.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    if "AthenaWorkGroupName" not in outputs or "LakeDatabaseName" not in outputs:
        raise AthenaError(f"stack {stack_name} has no analytics lake (deploy it with Analytics=on)")
    return AthenaLake(session.client("athena"), outputs["AthenaWorkGroupName"], outputs["LakeDatabaseName"])
