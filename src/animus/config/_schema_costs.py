"""What spend is priced at and how much of it a project or a workflow allows (``pricing:``, ``budgets:``)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from animus.config._fields import _Model

_Usd = Annotated[float, Field(ge=0)]


class ModelPrice(_Model):
    """US dollars per million tokens of one model: fresh input, cached input, output; and when it was checked."""

    input: _Usd
    #: null: cached input costs what fresh input costs
    cached_input: _Usd | None = None
    output: _Usd
    #: the date the price was read from the provider's page (YYYY-MM or YYYY-MM-DD)
    checked: Annotated[str, Field(pattern=r"^\d{4}-\d{2}(-\d{2})?$")] | None = None


class BudgetConfig(_Model):
    """Spend limits, checked before an agent phase starts and while it runs (null: no limit)."""

    per_task_usd: _Usd | None = None
    per_run_usd: _Usd | None = None
    per_day_usd: _Usd | None = None
    per_day_tokens: Annotated[int, Field(ge=0)] | None = None
    #: park: the run waits (``waiting_budget``) until the day rolls over or the budget is raised; fail: it fails
    on_exceeded: Literal["park", "fail"] = "park"
