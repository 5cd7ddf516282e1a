"""Property tests: the tools' argument models (tenants/oneapp/arguments.py), as the catalog builds upstream
requests from them and as the SDK validates them, hold their contract for any input."""

from __future__ import annotations

import re
from datetime import date
from typing import Any
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from mcp_endpoint.tools import TOOLS, sdk_argument_model
from tenants.oneapp.arguments import MAX_ID
from tenants.oneapp.catalog import CATALOG, ToolSpec

# Any character at all, lone surrogates and controls included; and the ones the contract is about.
any_char = st.characters(codec=None, exclude_categories=())


# ---------------------------------------------------------------------------------------------------
# (b) Tool arguments

# What each argument of the catalog is; a new argument must be added here to be checked.
KINDS = {
    "id": "id",
    "zone_id": "id",
    "check_id": "id",
    "cuestionario_id": "id",
    "asignacion_id": "id",
    "area_id": "id",
    "category_id": "id",
    "reason_id": "id",
    "page": "page",
    "limit": "limit",
    "search": "text",
    "from_date": "date",
    "end_date": "date",
    "areas_id": "ids",
    "categories_id": "ids",
    "foto_url": "url",
    "criterios": "texts",
}

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),
    st.text(any_char, max_size=30),
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=8,
)

# Values near the valid ones for each kind, so that the "accepted" side of the contract is exercised.
small_ints = st.integers(min_value=-3, max_value=103) | st.sampled_from(
    [MAX_ID, MAX_ID + 1, 2**64, 1_000_001]
)
numberish = (
    small_ints
    | small_ints.map(float)
    | small_ints.map(str)
    | st.sampled_from([True, False, 1.5, "1.0", " 7 ", "0x10", "１", "1e3"])
)
date_texts = st.one_of(
    st.dates().map(date.isoformat),
    st.from_regex(r"\d{4}-\d{2}-\d{2}", fullmatch=True),
    st.from_regex(r"[0-9]{2,4}[-/][0-9]{1,2}[-/][0-9]{1,2}\n?", fullmatch=True),
)
valid_urls = st.builds(
    "{}://{}{}".format,
    st.sampled_from(["http", "https", "HTTPS"]),
    st.from_regex(r"[a-z0-9][a-z0-9.-]{0,20}(:[0-9]{1,5})?", fullmatch=True),
    st.from_regex(r"(/[a-zA-Z0-9._%-]{0,10}){0,3}(\?[a-z=&]{0,10})?", fullmatch=True),
)
url_texts = st.one_of(
    # A valid URL with a space or control character spliced in, where a lenient parser skips it.
    st.builds(
        lambda url, at, char: url[:at] + char + url[at:],
        valid_urls,
        st.integers(0, 12),
        st.sampled_from([" ", "\t", "\n", "\r", "\x00", "\x1f", "\x7f", "\u202e", "\u200b", "\xa0"]),
    ),
    st.from_regex(r"(https?|HTTP|ftp|file|javascript|data):(//)?[^/?#]{0,12}(/[a-z.]{0,8})?", fullmatch=True),
    st.builds(
        lambda s, h: f"{s}://{h}/foto.jpg", st.sampled_from(["http", "https"]), st.text(any_char, max_size=6)
    ),
)
NEAR_VALID = {
    "id": numberish,
    "page": numberish,
    "limit": numberish,
    "text": st.text(any_char, max_size=210),
    "date": date_texts,
    "ids": st.lists(numberish, max_size=4) | st.lists(st.integers(1, 9), min_size=99, max_size=102),
    "url": url_texts,
    "texts": st.lists(st.text(any_char, max_size=4), max_size=3),
}


VALID = {
    "id": st.integers(1, MAX_ID),
    "page": st.integers(1, 1_000_000),
    "limit": st.integers(1, 100),
    "text": st.text(max_size=200),
    "date": st.dates().map(date.isoformat),
    "ids": st.lists(st.integers(1, MAX_ID), min_size=1, max_size=100),
    "url": valid_urls,
    "texts": st.lists(st.text(min_size=1, max_size=20), min_size=1, max_size=5),
}


def arguments_for(spec: ToolSpec) -> st.SearchStrategy[Any]:
    """Arguments for a tool: valid ones; or each field absent, valid, near-valid or any JSON value,
    maybe with an extra field; or anything JSON at all."""
    fields = spec.arguments.model_fields
    valid = st.fixed_dictionaries(
        {name: VALID[KINDS[name]] for name, info in fields.items() if info.is_required()},
        optional={name: VALID[KINDS[name]] for name, info in fields.items() if not info.is_required()},
    )
    absent = object()
    mixed = st.builds(
        lambda values, extra: {**{k: v for k, v in values.items() if v is not absent}, **extra},
        st.fixed_dictionaries(
            {
                name: st.one_of(st.just(absent), VALID[KINDS[name]], NEAR_VALID[KINDS[name]], json_values)
                for name in fields
            }
        ),
        st.dictionaries(
            st.sampled_from(["extra", "ctx", "values", "ZONE_ID", "_meta"]), json_values, max_size=1
        ),
    )
    return st.one_of(valid, mixed, json_values)


def check_value(kind: str, value: Any) -> None:
    if value is None:
        return  # only optional fields can be None: pydantic enforces requiredness itself
    if kind in ("id", "page", "limit"):
        assert type(value) is int
        assert value >= 1
        assert value <= {"id": MAX_ID, "page": 1_000_000, "limit": 100}[kind]
    elif kind == "ids":
        assert isinstance(value, list) and 1 <= len(value) <= 100
        for item in value:
            check_value("id", item)
    elif kind == "date":
        assert re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value)
        date.fromisoformat(value)
    elif kind == "url":
        # Checked on the string that is forwarded, not on urlsplit's cleaned-up reading of it.
        assert not any(char.isspace() or not char.isprintable() for char in value)
        assert value.lower().startswith(("http://", "https://"))
        parts = urlsplit(value)
        assert parts.scheme in ("http", "https")
        assert parts.hostname
    elif kind == "text":
        assert isinstance(value, str) and len(value) <= 200
    elif kind == "texts":
        assert isinstance(value, list) and 1 <= len(value) <= 100
        assert all(isinstance(item, str) and item for item in value)


def test_every_argument_of_the_catalog_has_a_kind():
    assert {name for spec in CATALOG for name in spec.arguments.model_fields} == set(KINDS)


# Tools that share an argument model are drawn for once, and each builds its own upstream request.
MODELS = {
    spec.arguments: [other for other in CATALOG if other.arguments is spec.arguments] for spec in CATALOG
}


@pytest.mark.parametrize("specs", MODELS.values(), ids=[model.__name__ for model in MODELS])
@settings(deadline=None, max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_validated_arguments_keep_the_contract_and_build_a_clean_upstream_request(specs, data):
    spec = specs[0]
    arguments = data.draw(arguments_for(spec), label="arguments")
    try:
        model = sdk_argument_model(spec.arguments).model_validate(arguments)
    except ValidationError:
        event("refused")
        return
    event("accepted")
    assert isinstance(arguments, dict)
    assert set(arguments) <= set(spec.arguments.model_fields)  # no extra field gets through
    values = model.model_dump_one_level()  # what the SDK hands the tool
    for name, value in values.items():
        check_value(KINDS[name], value)
    if values.get("from_date") and values.get("end_date"):
        assert values["from_date"] <= values["end_date"]

    for each in specs:
        path, query, body = each.upstream_request(values)
        assert "{" not in path and "None" not in path
        for name, value in query.items():
            assert isinstance(value, str) and value != "None", (name, value)
        if body is not None:
            assert None not in body.values()


SERVED = {tool.name: tool for tool in TOOLS}


@pytest.mark.parametrize("specs", MODELS.values(), ids=[model.__name__ for model in MODELS])
@settings(deadline=None, max_examples=30)
@given(data=st.data())
def test_the_sdk_argument_path_refuses_or_keeps_the_contract(specs, data):
    """As the SDK validates (JSON strings for lists are decoded first): a ValidationError or values
    that keep the contract, nothing else."""
    spec = specs[0]
    arguments = data.draw(
        st.one_of(
            arguments_for(spec),
            st.dictionaries(
                st.sampled_from(list(spec.arguments.model_fields) or ["x"]),
                json_values.map(repr) | st.text(max_size=12),
            ),
        )
    )
    if not isinstance(arguments, dict):
        return  # the SDK refuses a non-object before this point
    try:
        values = SERVED[spec.name].fn_metadata.validate_arguments(arguments)  # the served tool's own
    except ValidationError:
        return
    event("accepted")
    for name, value in values.items():
        check_value(KINDS[name], value)
    for each in specs:
        each.upstream_request(values)
