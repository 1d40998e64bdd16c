"""`animus cost`: what agent phases spent, by task, agent, model or day."""

from __future__ import annotations

import re
from typing import Any

import click

from animus.cli.app import AppContext, common_options, console, example
from animus.domain.errors import InvalidInput

_GROUPINGS = ("task", "agent", "model", "day")  # services.COST_GROUPINGS (not imported: start-up time)


def usd_text(cost_usd: float | None, priced_usd: float = 0.0) -> str:
    """``$1.2345``, or ``unknown`` (with the priced part) when some tokens ran on a model without a price."""
    if cost_usd is not None:
        return f"${cost_usd:.4f}"
    return f"unknown (≥ ${priced_usd:.4f})" if priced_usd else "unknown"


@click.command("cost", epilog=example(
    "animus cost", "animus cost --by day --since 2025-11-01", "animus cost --by model --json"))
@click.option("--by", "by", type=click.Choice(_GROUPINGS), default="task", show_default=True, help="How to group the spend.")
@click.option("--since", default=None, metavar="DATE", help="Only phases started on or after DATE (YYYY-MM-DD, UTC).")
@common_options
def cost(app: AppContext, by: str, since: str | None) -> None:
    """What agent phases spent (successful and failed alike): runs, tokens, dollars.

    Dollars are what the CLI reported (Claude Code), else tokens priced from the model table
    (docs/costs.md); a model without a price shows as unknown, never as $0.
    """
    if since is not None and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", since):
        raise InvalidInput(f"--since {since!r} is not a date (YYYY-MM-DD)")
    from animus.services import cost_report

    report = cost_report(app.store(), by=by, since=since)

    def human(data: dict[str, Any]) -> None:
        from rich.table import Table

        if not data["lines"]:
            console().print("no agent phase has spent anything yet" + (f" since {since}" if since else ""))
            return
        table = Table(box=None, pad_edge=False)
        for column, justify in ((by, "left"), ("runs", "right"), ("phases", "right"), ("input", "right"),
                                ("output", "right"), ("cost", "right")):
            table.add_column(column, justify=justify)  # type: ignore[arg-type]
        for line in [*data["lines"], data["total"]]:
            table.add_row(line["key"], str(line["runs"]), str(line["phases"]), f"{line['input_tokens']:,}",
                          f"{line['output_tokens']:,}", usd_text(line["cost_usd"], line["priced_usd"]))
        console().print(table)

    app.emit(report.to_dict(), human)
