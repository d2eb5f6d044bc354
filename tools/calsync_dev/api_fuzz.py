"""make api-fuzz: schemathesis against the /v1 API of a local stack of its own (or --url): every
operation of openapi/calsync-v1.yaml, valid and invalid inputs, each request SigV4-signed for
``execute-api``; checks: no server error, a documented status, the documented content type and
body schema, and no 403 for a signed call. An operation the target does not serve (API Gateway's
403 Missing Authentication Token to a signed call) is reported as not served, never as passed.
Prints a table and one JSON line of figures; exit 1 on any failure (--require-all: also when an
operation is not served)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

NOT_SERVED = "MissingAuthenticationTokenException"
SAMPLES = ("invitee_created.json", "invitee_rescheduled_canceled_old.json", "invitee_rescheduled_created_new.json")


@dataclass
class OperationResult:
    method: str
    path: str
    served: bool = True
    cases: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    valid_refused: int = 0  # inputs the contract allows that got a 400 (a looser contract than the code; not a failure)
    refused_by: Counter[str] = field(default_factory=Counter)  # those 400s by the parameter they name
    failures: Counter[str] = field(default_factory=Counter)  # kind -> count
    examples: dict[str, str] = field(default_factory=dict)  # a failure's words -> the request that showed it

    @property
    def name(self) -> str:
        return f"{self.method} {self.path}"


def kind_of(title: str) -> str:
    """A schemathesis failure title as the summary counts it."""
    if title == "Server error":
        return "server_error"
    if title in ("Undocumented status code",):
        return "status_violation"
    if "schema" in title.lower() or "content-type" in title.lower():
        return "schema_violation"
    return "other"


def refused_parameter(response: Any) -> str:
    """The parameter a 400 names (``{"error", "message", "parameter"}``), else ``?``."""
    try:
        body = response.json()
    except ValueError:
        return "?"
    return str(body.get("parameter") or "?") if isinstance(body, dict) else "?"


def header(response: Any, name: str) -> str | None:
    """One header of a schemathesis response (its names lower case, each value a list)."""
    value = response.headers.get(name.lower())
    return str(value[0] if isinstance(value, list) else value) if value else None


def fuzz_operation(operation: Any, base_url: str, auth: Any, examples: int, seed: int | None) -> OperationResult:
    from schemathesis import GenerationMode

    from calsync_dev.api_contract import check

    result = OperationResult(operation.method.upper(), operation.path)

    def run(case: Any) -> None:
        response = case.call(base_url=base_url, auth=auth, timeout=30)
        if response.status_code == 403 and header(response, "x-amzn-ErrorType") == NOT_SERVED:
            result.served = False
            return
        result.cases += 1
        result.statuses[response.status_code] += 1
        if response.status_code == 400 and positive[0]:
            result.valid_refused += 1
            result.refused_by[refused_parameter(response)] += 1
        verdict = check(case, response)
        titles = verdict.splitlines() if verdict else []
        if response.status_code == 403:
            titles.append(f"signed call refused: {response.text[:120]}")
        for title in titles:
            result.failures[kind_of(title)] += 1
            result.examples.setdefault(title, f"{case.method} {response.request.url} -> {response.status_code}")

    overrides: list[dict[str, str] | None] = [None]
    if "{connection_id}" in operation.path:
        overrides.append({"connection_id": "local"})  # the ready-made connection, with bookings
    runs: list[tuple[Any, dict[str, str] | None, int]] = [(GenerationMode.POSITIVE, None, 1)]  # a probe: served?
    runs += [
        (mode, path, examples) for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE) for path in overrides
    ]
    positive = [True]
    for mode, path_parameters, count in runs:
        positive[0] = mode == GenerationMode.POSITIVE
        cases(operation.as_strategy(generation_mode=mode, path_parameters=path_parameters), run, count, seed)
        if not result.served:
            break
    return result


def cases(strategy: Any, run: Callable[[Any], None], count: int, seed: int | None) -> None:
    """``run`` for ``count`` cases hypothesis draws from ``strategy`` (failures are recorded, never raised)."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as fixed_seed

    config = settings(
        max_examples=count,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )

    def one(case: Any) -> None:  # a new function per call: hypothesis takes settings once per function
        run(case)

    test = given(case=strategy)(config(one))
    if seed is not None:
        test = fixed_seed(seed)(test)
    test()


def in_fuzz_order(operations: Sequence[Any]) -> list[Any]:
    """The document's order, destructive calls last: a fuzzed ``DELETE …/local`` (it may erase the
    ready-made connection's data) must not leave the reads after it only 404s and empty pages."""
    return sorted(operations, key=lambda operation: operation.method.upper() == "DELETE")


def seed_bookings(api_url: str) -> int:
    """The sample bookings into the local connection (as ``calsync send`` would), once persisted."""
    from calsync_dev.cli.send import post_signed
    from calsync_dev.events import DEFAULT_LOCAL_KEY
    from calsync_dev.signed_api import call
    from calsync_dev.template import ROOT

    for name in SAMPLES:
        post_signed(
            f"{api_url}/webhooks/calendly/local", (ROOT / "events" / "webhooks" / name).read_bytes(), DEFAULT_LOCAL_KEY
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        answer = call("GET", f"{api_url}/v1/connections/local/bookings")
        if answer.status == 200 and len(answer.json()["bookings"]) >= 2:
            return len(answer.json()["bookings"])
        time.sleep(0.5)
    return 0


def report(results: list[OperationResult], base_url: str, examples: int) -> dict[str, Any]:
    width = max(len(r.name) for r in results) + 2
    print(f"\n{'operation':<{width}}{'cases':>7}  {'failures':>8}  statuses")
    for r in results:
        if not r.served:
            print(f"{r.name:<{width}}{'-':>7}  {'-':>8}  NOT SERVED (signed call: 403 Missing Authentication Token)")
            continue
        statuses = " ".join(f"{status}:{count}" for status, count in sorted(r.statuses.items()))
        print(f"{r.name:<{width}}{r.cases:>7}  {sum(r.failures.values()):>8}  {statuses}")
        for title, example in list(r.examples.items())[:10]:
            print(f"    ! {title}: {example}")
    served = [r for r in results if r.served]
    totals: Counter[str] = Counter()
    by_status: Counter[int] = Counter()
    refused_by: Counter[str] = Counter()
    for r in served:
        totals.update(r.failures)
        by_status.update(r.statuses)
        refused_by.update(r.refused_by)
    figures: dict[str, Any] = {
        "target": base_url,
        "examples_per_run": examples,
        "operations": len(results),
        "served": len(served),
        "not_served": [r.name for r in results if not r.served],
        "cases": sum(r.cases for r in served),
        "failures": sum(totals.values()),
        "server_errors": totals["server_error"],
        "schema_violations": totals["schema_violation"],
        "status_violations": totals["status_violation"],
        "other_failures": totals["other"],
        "valid_inputs_refused": sum(r.valid_refused for r in served),
        "valid_inputs_refused_by_parameter": dict(refused_by.most_common()),
        "statuses": {str(status): count for status, count in sorted(by_status.items())},
    }
    print(
        f"\napi-fuzz: {figures['operations']} operations, {figures['served']} served"
        f" ({len(figures['not_served'])} not served), {figures['cases']} cases;"
        f" {figures['server_errors']} server errors, {figures['schema_violations']} schema violations,"
        f" {figures['status_violations']} undocumented statuses, {figures['other_failures']} other failures;"
        f" {figures['valid_inputs_refused']} inputs valid by the contract answered 400 (not a failure"
        + "".join(f"; {name} {count}" for name, count in figures["valid_inputs_refused_by_parameter"].items())
        + ")"
    )
    print(json.dumps(figures))
    return figures


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="calsync-api-fuzz", description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=100, help="cases per operation, mode and connection")
    parser.add_argument("--url", help="a running stack's base URL (default: start a local stack of its own)")
    parser.add_argument("--region", default=None, help="sign for this region with the environment's AWS credentials")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--require-all", action="store_true", help="fail when an operation is not served")
    parser.add_argument(
        "--stack-log",
        type=Path,
        default=None,
        help="where the own local stack's output goes (its functions' logs and unhandled tracebacks;"
        " default: a file in the temporary directory, named at the start)",
    )
    args = parser.parse_args(argv)

    from calsync_dev.api_contract import SigV4, contract
    from calsync_dev.soak import own_stack

    if args.region:
        import botocore.session

        credentials = botocore.session.get_session().get_credentials()
        if credentials is None:
            parser.error("--region signs with the environment's AWS credentials, and there are none")
        auth = SigV4(credentials.get_frozen_credentials(), args.region)  # type: ignore[arg-type]
    else:
        auth = SigV4()
    stack = None
    base_url = args.url
    if base_url is None:
        stack_log = args.stack_log or Path(tempfile.gettempdir()) / f"calsync-api-fuzz-{os.getpid()}.log"
        stack = own_stack(stack_log)
        env = next(stack)
        os.environ.update(env)
        base_url = f"http://127.0.0.1:{env['CALSYNC_API_PORT']}"
        print(
            f"api-fuzz: local stack at {base_url} (its output: {stack_log});"
            f" {seed_bookings(base_url)} sample bookings under 'local'",
            flush=True,
        )
    try:
        results = []
        for operation in in_fuzz_order([found.ok() for found in contract().get_all_operations()]):
            started = time.monotonic()
            result = fuzz_operation(operation, base_url.rstrip("/"), auth, args.examples, args.seed)
            print(f"  {result.name}: {result.cases} cases in {time.monotonic() - started:.1f} s", flush=True)
            results.append(result)
    finally:
        if stack is not None:
            stack.close()
    return exit_code(report(results, base_url, args.examples), require_all=args.require_all)


def exit_code(figures: dict[str, Any], *, require_all: bool) -> int:
    """1 on any failure of a served operation, or (``require_all``) when one is not served."""
    return 1 if figures["failures"] or (require_all and figures["not_served"]) else 0


if __name__ == "__main__":
    sys.exit(main())
