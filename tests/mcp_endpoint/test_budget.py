"""The response budget (mcp_endpoint/budget.py) over real HTTP: an answer of megabytes from a fake
OneApp reaches the model cut at an item boundary, as valid JSON that says what was left out and how
to ask for less; a full page says more may follow."""

from __future__ import annotations

import json

import pytest

from tests.helpers import CORE, change_url, tenant_form
from tests.mcp_endpoint.test_answers import ERAS, call

pytestmark = pytest.mark.usefixtures("oneapp_tenant")


def branches(count: int) -> list[dict[str, object]]:
    return [
        {
            "id": n,
            "nombre": f"Sucursal número {n}",
            "direccion": "Avenida Siempre Viva " + "x" * 120,
            "zona": n % 40,
        }
        for n in range(1, count + 1)
    ]


@pytest.mark.parametrize("era", ERAS)
def test_a_list_of_megabytes_is_cut_at_an_item_boundary_with_a_note_the_model_can_act_on(
    live_server_url, fake_oneapp, era
):
    everything = branches(18_000)
    raw = json.dumps(everything).encode()
    assert 3_000_000 < len(raw) < 4 * 1024 * 1024  # megabytes, under OneApp answers' default read cap
    fake_oneapp.reply(CORE + "/core/sucursales", body=raw)

    result = call(live_server_url, era, "core_list_sucursales", {})

    assert result.get("isError") is not True
    text = result["content"][0]["text"]
    structured = result["structuredContent"]
    assert json.loads(text) == structured  # one answer, valid JSON both ways
    assert len(text) <= 80_000  # the default budget
    kept = structured["result"]
    assert 0 < len(kept) < len(everything)
    assert kept == everything[: len(kept)]  # whole items, in order
    note = structured["truncated"]
    assert note["returned"] == len(kept) and note["total"] == len(everything)
    assert f"{len(kept)} of {len(everything)} items" in note["note"]
    assert "core_list_sucursales_by_zona" in note["note"]  # what narrows a tool with no arguments


def test_the_budget_is_a_setting_and_an_object_answer_keeps_its_other_members(
    live_server_url, fake_oneapp, settings
):
    settings.MCP_RESPONSE_BUDGET_CHARS = 5_000
    rows = [{"id": n, "nombre": f"Checklist {n}"} for n in range(1, 1001)]
    fake_oneapp.reply("/front/api/checklist/data/checks", body={"data": rows, "total": 1000, "page": 1})

    result = call(live_server_url, "2025-11-25", "checklist_list_checks", {"page": 1, "limit": 100})

    structured = result["structuredContent"]
    assert json.loads(result["content"][0]["text"]) == structured
    assert len(result["content"][0]["text"]) <= 5_000
    assert structured["total"] == 1000 and structured["page"] == 1
    assert structured["data"] == rows[: len(structured["data"])]
    note = structured["truncated"]["note"]
    for argument in ("search", "limit", "page=1", "page=2"):
        assert argument in note
    assert "more may follow" in structured["more_pages"]  # 1000 items came for limit=100


@pytest.mark.parametrize("era", ERAS)
def test_a_full_page_says_more_pages_may_exist(live_server_url, fake_oneapp, era):
    fake_oneapp.reply("/front/api/checklist/data/ambitos", body=[{"id": n} for n in range(10)])

    full = call(live_server_url, era, "checklist_list_ambitos", {"check_id": 5, "page": 2, "limit": 10})
    short = call(live_server_url, era, "checklist_list_ambitos", {"check_id": 5, "page": 2, "limit": 20})

    assert full["structuredContent"]["result"] == [{"id": n} for n in range(10)]
    assert "ask page=3" in full["structuredContent"]["more_pages"]
    assert json.loads(full["content"][0]["text"]) == full["structuredContent"]
    assert short["structuredContent"] == {"result": [{"id": n} for n in range(10)]}  # as before
    assert json.loads(short["content"][0]["text"]) == [{"id": n} for n in range(10)]


def test_an_answer_within_the_budget_is_as_oneapp_sent_it(live_server_url, fake_oneapp):
    fake_oneapp.reply(CORE + "/core/sucursales", body=branches(3))

    result = call(live_server_url, "2026-07-28", "core_list_sucursales", {})

    assert json.loads(result["content"][0]["text"]) == branches(3)
    assert result["structuredContent"] == {"result": branches(3)}


def save_budget(admin_client, tenant, budget: str) -> None:
    """Set the tenant's response budget on its admin page, the rest of the form as it is."""
    form = tenant_form(
        core_base_url=tenant.core_base_url,
        client_base_url=tenant.client_base_url,
        response_budget_chars=budget,
        **{"access_keys-TOTAL_FORMS": "0", "access_keys-INITIAL_FORMS": "0"},
    )
    assert admin_client.post(change_url(tenant), form).status_code == 302


def test_a_tenants_own_budget_from_admin_cuts_its_answers_and_empty_goes_back_to_the_default(
    live_server_url, fake_oneapp, oneapp_tenant, admin_client
):
    everything = branches(200)
    fake_oneapp.reply(CORE + "/core/sucursales", body=everything)
    whole = call(live_server_url, "2025-11-25", "core_list_sucursales", {})
    assert 5_000 < len(whole["content"][0]["text"]) < 80_000  # within the default budget: whole

    save_budget(admin_client, oneapp_tenant, "5000")
    cut = call(live_server_url, "2025-11-25", "core_list_sucursales", {})
    save_budget(admin_client, oneapp_tenant, "")
    again = call(live_server_url, "2026-07-28", "core_list_sucursales", {})

    assert whole["structuredContent"] == {"result": everything}
    text = cut["content"][0]["text"]
    assert len(text) <= 5_000 and json.loads(text) == cut["structuredContent"]
    kept = cut["structuredContent"]["result"]
    assert kept == everything[: len(kept)] and 0 < len(kept) < len(everything)
    assert cut["structuredContent"]["truncated"]["total"] == len(everything)
    assert again["structuredContent"] == {"result": everything}
