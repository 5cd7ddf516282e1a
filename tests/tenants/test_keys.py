"""Access keys themselves (tenants/keys.py): generated, hashed, and found among a tenant's keys in constant
time."""

import hashlib
import hmac
from datetime import timedelta

import pytest
from django.utils import timezone

from tenants.keys import KEY_PATTERN, StoredKey, find_key, generate_key, hash_key
from tests.helpers import ACME_KEY, GLOBEX_KEY, REVOKED_KEY, WRONG_SECRET_KEY

# tenants/keys.py


def test_a_generated_key_is_omk_prefix_and_a_43_character_secret():
    key, prefix = generate_key()
    match = KEY_PATTERN.fullmatch(key)
    assert match is not None and match.group(1) == prefix
    assert key.startswith(f"omk_{prefix}_") and len(key) == 4 + 8 + 1 + 43
    assert generate_key() != generate_key()


def test_a_key_is_hashed_with_sha256_to_64_hex_characters():
    assert hash_key(ACME_KEY) == hashlib.sha256(ACME_KEY.encode()).hexdigest()
    assert len(hash_key(ACME_KEY)) == 64
    assert hash_key(ACME_KEY) != hash_key(WRONG_SECRET_KEY)


NOW = timezone.now()


def digest(key: str, id: int = 1, prefix: str | None = None, expires_at=None) -> StoredKey:
    return StoredKey(id, key[4:12] if prefix is None else prefix, hash_key(key), expires_at)


def test_find_key_returns_the_digest_of_the_presented_key_among_several():
    mine = digest(ACME_KEY, id=2)
    digests = (digest(GLOBEX_KEY, id=1), mine, digest(REVOKED_KEY, id=3))
    assert find_key(ACME_KEY, digests, NOW) is mine


@pytest.mark.parametrize(
    ("presented", "digests"),
    [
        pytest.param(WRONG_SECRET_KEY, (digest(ACME_KEY),), id="wrong-secret"),
        pytest.param(ACME_KEY, (digest(ACME_KEY, prefix="zzzzzzzz"),), id="hash-matches-but-prefix-differs"),
        pytest.param("omk_unknown1_" + "u" * 43, (digest(ACME_KEY),), id="well-formed-but-unknown"),
        pytest.param(ACME_KEY, (), id="tenant-without-keys"),
        pytest.param(ACME_KEY, (digest(ACME_KEY, expires_at=NOW - timedelta(seconds=1)),), id="expired"),
        pytest.param(ACME_KEY, (digest(ACME_KEY, expires_at=NOW),), id="expiring-this-instant"),
    ],
)
def test_find_key_finds_nothing_for_a_key_that_is_not_a_live_one(presented, digests):
    assert find_key(presented, digests, NOW) is None


def test_find_key_accepts_a_key_until_it_expires():
    mine = digest(ACME_KEY, expires_at=NOW + timedelta(seconds=1))
    assert find_key(ACME_KEY, (mine,), NOW) is mine


@pytest.fixture
def compared(monkeypatch) -> list[tuple[str, str]]:
    calls = []
    real = hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr("tenants.keys.hmac.compare_digest", spy)
    return calls


def test_find_key_compares_the_hash_with_every_candidate_in_constant_time(compared):
    digests = (digest(ACME_KEY, id=1), digest(GLOBEX_KEY, id=2), digest(REVOKED_KEY, id=3))
    assert find_key(ACME_KEY, digests, NOW) is digests[0]
    # All three, though the first matched: the time taken does not tell which one did.
    assert compared == [(hash_key(ACME_KEY), d.hash) for d in digests]


@pytest.mark.parametrize("presented", ["", "Bearer", "omk_short", ACME_KEY + " ", "x" * 10_000])
def test_find_key_refuses_a_malformed_key_before_hashing_or_comparing(compared, presented):
    assert find_key(presented, (digest(ACME_KEY),), NOW) is None
    assert compared == []
