"""What the audit log keeps of a call's arguments (tenants/audit.py): values as sent, minus anything
secret-looking, and cut to a size a row can hold."""

from __future__ import annotations

import pytest

from tenants.audit import MAX_ITEMS, MAX_TEXT, redacted_arguments
from tests.helpers import ACME_KEY, CANARY_TOKEN

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbmEifQ.c2lnbmF0dXJl"


def stored(arguments, authorization: str = CANARY_TOKEN):
    return redacted_arguments(arguments, authorization)


def test_plain_values_are_kept_as_they_are():
    arguments = {"zone_id": 3, "areas_id": [1, 2], "search": "sucursal centro", "asignacion_id": None}
    assert stored(arguments) == arguments


@pytest.mark.parametrize(
    "name", ["password", "api_key", "Authorization", "session_id", "x_signature", "token"]
)
def test_a_value_named_like_a_secret_is_never_kept(name):
    assert stored({name: "anything", "page": 1}) == {name: "[redacted]", "page": 1}


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        (f"use {ACME_KEY} please", "use [redacted] please"),
        ("Authorization: Bearer abc.def-123", "Authorization: [redacted]"),
        (f"jwt {JWT}", "jwt [redacted]"),
        (f"echo of {CANARY_TOKEN.split()[1]}", "echo of [redacted]"),  # the tenant's own upstream token
    ],
)
def test_credentials_inside_a_text_are_replaced(text, kept):
    assert stored({"search": text}) == {"search": kept}


def test_a_url_keeps_its_place_and_loses_its_query_values_and_password():
    url = "https://ana:hunter2@fotos.example.test/p/a.jpg?X-Amz-Signature=abc&size=2#top"
    assert stored({"foto_url": url}) == {
        "foto_url": "https://fotos.example.test/p/a.jpg?X-Amz-Signature=[redacted]&size=[redacted]#top"
    }


def test_long_texts_and_lists_are_cut():
    kept = stored({"search": "x" * (MAX_TEXT + 50), "areas_id": list(range(MAX_ITEMS + 5))})
    assert len(kept["search"]) == MAX_TEXT
    assert kept["areas_id"] == list(range(MAX_ITEMS))


def test_nested_values_are_searched_too():
    arguments = {"criterios": [f"limpieza {ACME_KEY}", {"secret_note": "x", "ok": "orden"}]}
    assert stored(arguments) == {
        "criterios": ["limpieza [redacted]", {"secret_note": "[redacted]", "ok": "orden"}]
    }
