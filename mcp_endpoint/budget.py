"""A tool result's response budget: what a model's context can take of one answer.

A result whose JSON is longer than the tenant's budget (its "response budget" in admin, or else
`MCP_RESPONSE_BUDGET_CHARS`, default 80,000 characters, about 20,000 tokens: Claude Code cuts tool
results at 25,000 tokens) is cut at an item boundary of its list (the answer itself, or its largest
list member), stays valid JSON, and carries a `truncated` note that says how many items it
returned, how many there are, and which arguments or tools narrow the answer. A full page of a
paginated tool carries a `more_pages` note.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings

from tenants.models import TenantSettings
from tenants.oneapp.catalog import ToolSpec

# Arguments that make an answer smaller, in the words a model reads.
NARROWING = {
    "zone_id": "zone_id (one zone)",
    "id": "id (one subgerencia)",
    "check_id": "check_id (one checklist)",
    "cuestionario_id": "cuestionario_id (one questionnaire)",
    "asignacion_id": "asignacion_id (one assignment)",
    "area_id": "area_id (one area)",
    "category_id": "category_id (one category)",
    "reason_id": "reason_id (one criterion)",
    "areas_id": "areas_id (fewer areas)",
    "categories_id": "categories_id (fewer categories)",
    "search": "search (a name to look for)",
    "from_date": "from_date/end_date (a shorter range)",
    "limit": "limit (fewer per page)",
}


def budget_chars(tenant: TenantSettings) -> int:
    """The tenant's own budget, or the server's default (read per call: a changed setting applies at once)."""
    return tenant.response_budget_chars or settings.MCP_RESPONSE_BUDGET_CHARS


def dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False)


def fit(data: Any, spec: ToolSpec, values: dict[str, Any], budget: int) -> tuple[Any, str]:
    """The upstream JSON as the model gets it, and its text.

    Within the budget and with no note to add, the answer is as OneApp sent it. A list answer that
    needs a note is wrapped as {"result": [...], note...}; an object answer gets the note as a member.
    """
    text = dumps(data)
    over = len(text) > budget
    paginated = "page" in spec.arguments.model_fields
    if not over and not paginated:
        return data, text  # the common case: one dump, nothing else
    answer: dict[str, Any] | None = {"result": data} if isinstance(data, list) else None
    if isinstance(data, dict):
        answer = data
    key = None if answer is None else _list_member(answer)
    if answer is None or key is None:
        return data, text  # no list to cut at an item boundary: left whole
    items: list[Any] = answer[key]
    notes: dict[str, Any] = {}
    if paginated and (more := _more_pages_note(values, len(items))) is not None:
        notes["more_pages"] = more
    if over:
        kept = _items_within({**answer, **notes}, key, items, budget, spec, values)
        notes = {"truncated": _truncation_note(spec, values, kept, len(items)), **notes}
        answer = {**answer, key: items[:kept]}
    if not notes:
        return data, text
    shaped = {**answer, **notes}
    return shaped, dumps(shaped)


def _list_member(answer: dict[str, Any]) -> str | None:
    """The member that holds the answer's items: its longest list (by JSON length), if it has one."""
    lists = [(len(dumps(value)), key) for key, value in answer.items() if isinstance(value, list) and value]
    return max(lists)[1] if lists else None


def _items_within(
    answer: dict[str, Any], key: str, items: list[Any], budget: int, spec: ToolSpec, values: dict[str, Any]
) -> int:
    """How many leading items fit, with the rest of the answer and the note, in the budget."""
    note = _truncation_note(spec, values, len(items), len(items))  # the longest the note gets
    fixed = len(dumps({**answer, key: [], "truncated": note}))
    room = budget - fixed
    kept = 0
    for item in items:
        room -= len(dumps(item)) + 2  # ", " between items
        if room < 0:
            break
        kept += 1
    return kept


def _truncation_note(spec: ToolSpec, values: dict[str, Any], returned: int, total: int) -> dict[str, Any]:
    narrowing = [text for name, text in NARROWING.items() if name in spec.arguments.model_fields]
    advice = (
        f"Answer cut to fit the response budget: {returned} of {total} items returned, the rest left out."
    )
    if narrowing:
        advice += " Narrow the answer with " + ", ".join(narrowing) + "."
    if spec.narrower_tools:
        tools = ", ".join(spec.narrower_tools)
        advice += f" {'Or use' if narrowing else 'Use'} {tools} to ask for a part of it."
    if "page" in spec.arguments.model_fields:
        page = values.get("page") or 1
        advice += f" Ask page={page} again with a smaller limit, then page={page + 1} for what follows."
    return {"returned": returned, "total": total, "note": advice}


def _more_pages_note(values: dict[str, Any], count: int) -> str | None:
    limit = values.get("limit")
    if limit is None or count < limit:
        return None
    page = values.get("page") or 1
    return f"This page is full ({count} items, limit={limit}): more may follow; ask page={page + 1}."
