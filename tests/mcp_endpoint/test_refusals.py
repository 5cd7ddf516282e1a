"""The X-Client-ID rules of the contract (mcp_endpoint/refusals.py): a table of cases, and properties for
any header."""

from __future__ import annotations

import re
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mcp_endpoint import refusals
from mcp_endpoint.refusals import Refusal, route_client_id
from tenants.identifiers import CLIENT_ID_MAX_LENGTH


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, (403, "MISSING_CLIENT_ID")),
        ("", (403, "MISSING_CLIENT_ID")),
        ("   ", (403, "MISSING_CLIENT_ID")),
        ("acme,globex", (400, "DUPLICATE_CLIENT_ID")),
        ("acme, acme", (400, "DUPLICATE_CLIENT_ID")),
        (",", (400, "DUPLICATE_CLIENT_ID")),
        ("ac-me,globex", (400, "DUPLICATE_CLIENT_ID")),  # several values, before any is judged
        ("ac-me", (403, "INVALID_CLIENT_ID")),
        ("../acme", (403, "INVALID_CLIENT_ID")),
        ("acmé", (403, "INVALID_CLIENT_ID")),
        ("acme\x00", (403, "INVALID_CLIENT_ID")),
        ("a" * 65, (403, "INVALID_CLIENT_ID")),
        ("ACME", "acme"),
        ("  Acme42\t", "acme42"),
        ("A" * 64, "a" * 64),
    ],
)
def test_client_id_header_is_trimmed_lowercased_and_checked_in_contract_order(header, expected):
    result = route_client_id(header)
    assert ((result.status, result.code) if isinstance(result, Refusal) else result) == expected


# Any character at all, lone surrogates and controls included; and the ones the contract is about.
any_char = st.characters(codec=None, exclude_categories=())
header_chars = st.one_of(
    any_char, st.sampled_from(list("aAzZ09 ,\t\r\n\x00\x0b\x1f\x85\xa0é-_./%\u212a\u0130"))
)
# What an HTTP header value can hold once decoded: the ASGI server hands over bytes, read as latin-1.
latin1_chars = st.one_of(
    st.characters(codec="latin-1", exclude_categories=()), st.sampled_from(list("aAzZ09 ,\t\x00\x85\xa0é"))
)


# ---------------------------------------------------------------------------------------------------
# (a) X-Client-ID

MISSING, DUPLICATE, INVALID = "MISSING_CLIENT_ID", "DUPLICATE_CLIENT_ID", "INVALID_CLIENT_ID"
STATUS = {MISSING: 403, DUPLICATE: 400, INVALID: 403}  # the refusal table of the README


def contract(header: str | None) -> str:
    """The contract's rules, in its order, written from its words rather than from route_client_id:
    trimmed empty is missing, a comma means several values, and a client id is 1 to 64 ASCII letters
    and digits, compared in lower case. The refusal's code, or the client id it names."""
    trimmed = (header or "").strip()
    if trimmed == "":
        return MISSING
    if "," in trimmed:
        return DUPLICATE
    if trimmed.isascii() and trimmed.isalnum() and len(trimmed) <= CLIENT_ID_MAX_LENGTH:
        return trimmed.lower()
    return INVALID


def routed(header: str | None) -> str:
    """What route_client_id makes of a header: a refusal's code (its status checked), or the client id."""
    result = refusals.route_client_id(header)
    if isinstance(result, refusals.Refusal):
        assert result.status == STATUS[result.code], result
        return result.code
    return result


@settings(deadline=None, max_examples=500)
@given(
    st.one_of(st.none(), st.text(latin1_chars, max_size=70), st.text(st.sampled_from("aZ9 ,-"), max_size=70))
)
def test_client_id_routing_follows_the_contract_for_any_header_value(header):
    assert routed(header) == contract(header)


@settings(deadline=None, max_examples=200)
@given(st.one_of(st.none(), st.text(header_chars, max_size=40), st.text(max_size=40)))
def test_any_text_at_all_routes_to_a_refusal_or_to_a_well_formed_client_id(header):
    # Characters no HTTP header can carry (lone surrogates, the Kelvin sign...) included: never a crash,
    # never a client id outside a-z and 0-9.
    result = routed(header)
    assert result in STATUS or re.fullmatch(rf"[a-z0-9]{{1,{CLIENT_ID_MAX_LENGTH}}}", result)


@settings(deadline=None, max_examples=200)
@given(
    st.text(
        st.sampled_from(list(string.ascii_letters + string.digits)), min_size=1, max_size=CLIENT_ID_MAX_LENGTH
    ),
    st.data(),
)
def test_a_well_formed_client_id_is_found_whatever_its_case_and_padding(client_id, data):
    padding = st.text(st.sampled_from([" ", "\t"]), max_size=3)
    header = data.draw(padding) + client_id + data.draw(padding)
    assert refusals.route_client_id(header) == client_id.lower()
