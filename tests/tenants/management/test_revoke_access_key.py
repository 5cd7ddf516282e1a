"""`manage.py revoke_access_key`, against the real database."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from tenants.models import AccessKey, TenantChange
from tests.helpers import ACME_KEY, give_key


def revoke(prefix: str) -> str:
    stdout = StringIO()
    call_command("revoke_access_key", prefix, stdout=stdout, stderr=StringIO())
    return stdout.getvalue()


# revoke_access_key


@pytest.mark.django_db
@pytest.mark.parametrize("typed", ["omk_acme0key", "acme0key", " OMK_ACME0KEY "])
def test_revoke_by_prefix_with_or_without_omk(make_tenant, typed):
    access_key = give_key(make_tenant("acme"), ACME_KEY)
    stdout = revoke(typed)
    access_key.refresh_from_db()
    assert access_key.revoked_at is not None
    assert stdout == "Revoked omk_acme0key (tests) of tenant acme.\n"


@pytest.mark.django_db
def test_revoke_leaves_other_keys_alone(make_tenant):
    tenant = make_tenant("acme")
    give_key(tenant, ACME_KEY)
    other, _ = AccessKey.issue(tenant, "other")
    revoke("acme0key")
    other.refresh_from_db()
    assert other.revoked_at is None


@pytest.mark.django_db
def test_revoke_records_a_tenant_change_so_every_worker_drops_its_server(make_tenant):
    give_key(make_tenant("acme"), ACME_KEY)
    make_tenant("globex")
    TenantChange.objects.all().delete()
    revoke("omk_acme0key")
    assert list(TenantChange.objects.values_list("client_id", flat=True)) == ["acme"]


@pytest.mark.django_db
def test_revoke_of_an_unknown_prefix_is_an_error(make_tenant):
    give_key(make_tenant("acme"), ACME_KEY)
    with pytest.raises(CommandError, match="No access key has the prefix omk_zzzz9999"):
        revoke("omk_zzzz9999")
    assert AccessKey.objects.get().revoked_at is None


@pytest.mark.django_db
@pytest.mark.parametrize("typed", ["", "acme0ke", "omk_acme0key_x", ACME_KEY, "acme-key"])
def test_revoke_of_something_not_a_prefix_is_an_error_that_does_not_echo_it(make_tenant, typed):
    give_key(make_tenant("acme"), ACME_KEY)
    with pytest.raises(CommandError, match="Give the key's prefix") as excinfo:
        revoke(typed)
    assert ACME_KEY not in str(excinfo.value)
    assert AccessKey.objects.get().revoked_at is None


@pytest.mark.django_db
def test_revoke_of_an_already_revoked_key_says_so_and_changes_nothing(make_tenant):
    revoked_at = timezone.now() - timedelta(days=2)
    give_key(make_tenant("acme"), ACME_KEY, revoked_at=revoked_at)
    TenantChange.objects.all().delete()
    stdout = revoke("acme0key")
    assert "already revoked" in stdout
    assert AccessKey.objects.get().revoked_at == revoked_at
    assert not TenantChange.objects.exists()
