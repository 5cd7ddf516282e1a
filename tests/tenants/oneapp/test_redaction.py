"""The Redactor's rules on their own (tenants/oneapp/redaction.py); the wire is in test_hostile_upstream.py."""

from __future__ import annotations

import json

import pytest

from tenants.oneapp.redaction import MARK, MAX_HITS, Redactor

SECRET = "Hx7qL2vNc9RtY4wZpK8sJd3fGm6bVa1e"
redactor = Redactor("Bearer " + SECRET)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"a {SECRET} b", f"a {MARK} b"),
        (f"a {SECRET}{SECRET} b", f"a {MARK} b"),  # two echoes side by side are one
        (f"{SECRET[:8]} and {SECRET[-8:]}", f"{MARK} and {MARK}"),  # 8 characters is an echo
        (f"{SECRET[:7]} and {SECRET[-7:]}", f"{SECRET[:7]} and {SECRET[-7:]}"),  # 7 is not
        (f"x{SECRET[:10]}\r\n\t {SECRET[10:].lower()}y", f"x{MARK}y"),  # the gaps inside go with it
        ("nothing to see", "nothing to see"),
    ],
)
def test_what_is_an_echo(text, expected):
    assert redactor.text(text) == expected


def test_keys_values_and_numbers_are_redacted_in_place_and_the_rest_kept():
    numeric = Redactor("Bearer 9081726354")
    data = {"9081726354": [1, 9081726354, "id 9081726354"], "keep": {"n": 12, "t": True}}

    assert numeric.json(data) == {MARK: [1, MARK, f"id {MARK}"], "keep": {"n": 12, "t": True}}


def test_a_body_crowded_with_the_token_is_redacted_whole():
    crowded = [f"{SECRET} #{i}" for i in range(MAX_HITS)]

    assert redactor.json(crowded) == MARK


def test_a_long_token_is_searched_at_most_32_times_and_guarded_in_longer_runs():
    jwt = "eyJ" + "aB3dE5fG7h" * 90  # 903 characters
    long = Redactor("Bearer " + jwt)

    assert len(long._anchors) <= 32
    assert long.text(f"x {jwt[100:136]} y") == f"x {MARK} y"  # 36 characters: an echo
    assert long.text(jwt[100:120]) == jwt[100:120]  # 20 of 903: too short to count


def test_the_body_search_sees_through_json_escapes_and_is_sure_only_of_no():
    split = json.dumps({"a": SECRET[:12] + "\n" + SECRET[12:]}).encode()
    slashed = json.dumps({"a": "x"}).encode()

    assert redactor.body_may_echo(split) is True
    assert redactor.body_may_echo(slashed) is False
    assert redactor.body_may_echo(b'{"a": "\\u0048x7qL2vNc"}') is True  # escaped ASCII: walked


def test_a_token_without_a_scheme_and_no_token_at_all():
    assert Redactor(SECRET).text(SECRET.lower()) == MARK
    assert Redactor("").text(SECRET) == SECRET
    assert Redactor("").json({"a": SECRET}) == {"a": SECRET}
