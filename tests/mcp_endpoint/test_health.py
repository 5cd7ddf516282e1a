"""/healthz (liveness, no database) and /readyz (database and encryption keys), through Django's client."""

import httpx
import pytest
from django.db import InterfaceError, OperationalError, connection

from tests.helpers import CANARY_TOKEN, raw_token


@pytest.fixture(params=[OperationalError, InterfaceError])
def database_down(request, db):
    """Every attempt to reach the database fails: OperationalError as with the server gone, or
    InterfaceError as with a connection the driver holds for closed."""

    def unreachable() -> None:
        raise request.param("connection to server at 10.9.9.9 failed: Connection refused")

    # Undone before `db` rolls the test's transaction back, which needs the connection.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(connection, "ensure_connection", unreachable)
        yield


def test_healthz_answers_ok_without_a_single_query(client, db, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_healthz_answers_ok_while_the_database_is_unreachable(client, database_down):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_is_ready_with_a_reachable_database_and_no_tenants(client, db):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready"}


def test_readyz_is_ready_when_the_keys_decrypt_the_stored_tokens(client, make_tenant):
    make_tenant("acme")
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready"}


def test_readyz_stays_ready_during_a_rotation_with_the_old_key_second(
    client, make_tenant, settings, fresh_key
):
    make_tenant("acme")
    settings.TOKEN_ENCRYPTION_KEYS = [fresh_key, *settings.TOKEN_ENCRYPTION_KEYS]
    assert client.get("/readyz").status_code == 200


def test_readyz_is_503_with_a_reason_when_the_database_is_unreachable(client, database_down):
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "reason": "The database cannot be reached."}


@pytest.mark.parametrize(
    ("keys", "reason"),
    [
        ([], "TOKEN_ENCRYPTION_KEYS is not set."),
        (
            ["not-a-fernet-key-0123456789"],
            "Key number 1 of TOKEN_ENCRYPTION_KEYS is not a valid Fernet key "
            "(32 url-safe base64-encoded bytes).",
        ),
    ],
)
def test_readyz_is_503_naming_the_problem_when_the_keys_are_missing_or_malformed(
    client, db, settings, keys, reason
):
    settings.TOKEN_ENCRYPTION_KEYS = keys
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "reason": reason}


def test_a_malformed_second_key_is_named_by_its_position_never_by_its_value(client, db, settings, fresh_key):
    settings.TOKEN_ENCRYPTION_KEYS = [fresh_key, "half-a-key-Zm9vYmFy"]
    response = client.get("/readyz")
    assert response.status_code == 503
    assert "Key number 2 of TOKEN_ENCRYPTION_KEYS" in response.json()["reason"]
    assert b"half-a-key" not in response.content
    assert fresh_key.encode() not in response.content


def test_readyz_is_503_when_the_keys_cannot_decrypt_the_stored_tokens_and_reveals_no_secret(
    client, make_tenant, settings, fresh_key
):
    make_tenant("acme")
    old_keys = list(settings.TOKEN_ENCRYPTION_KEYS)
    ciphertext = raw_token("acme")
    settings.TOKEN_ENCRYPTION_KEYS = [fresh_key]

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "reason": "TOKEN_ENCRYPTION_KEYS cannot decrypt the stored tokens; "
        "add the key they were encrypted with.",
    }
    for secret in [fresh_key, *old_keys, ciphertext, CANARY_TOKEN]:
        assert secret.encode() not in response.content


def test_readyz_ignores_tenants_without_a_token(client, make_tenant, settings, fresh_key):
    make_tenant("acme", authorization="")
    settings.TOKEN_ENCRYPTION_KEYS = [fresh_key]
    assert client.get("/readyz").status_code == 200


def test_probes_answer_a_load_balancer_that_asks_with_an_instance_address_as_host(
    live_server_url, transactional_db
):
    for path in ("/healthz", "/readyz"):
        response = httpx.get(live_server_url + path, headers={"Host": "10.0.0.5:8000"})
        assert response.status_code == 200, path
