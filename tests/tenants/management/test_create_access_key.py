"""`manage.py create_access_key`, against the real database."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from tenants.keys import KEY_PATTERN, hash_key
from tenants.models import AccessKey


def create(*args: str) -> tuple[str, str]:
    stdout, stderr = StringIO(), StringIO()
    call_command("create_access_key", *args, stdout=stdout, stderr=stderr)
    return stdout.getvalue(), stderr.getvalue()


# create_access_key


@pytest.mark.django_db
def test_create_prints_the_key_alone_on_stdout_and_stores_only_its_hash(make_tenant):
    tenant = make_tenant("acme")
    stdout, stderr = create("acme")

    assert stdout.endswith("\n")
    [key] = stdout.splitlines()
    assert KEY_PATTERN.fullmatch(key)
    access_key = AccessKey.objects.get()
    assert access_key.tenant == tenant
    assert access_key.prefix == key[4:12]
    assert access_key.key_hash == hash_key(key)
    assert key not in str(AccessKey.objects.values().get())
    assert key not in stderr


@pytest.mark.django_db
def test_create_tells_the_prefix_expiry_and_that_the_key_is_shown_once_on_stderr(make_tenant):
    make_tenant("acme")
    _, stderr = create("acme")
    access_key = AccessKey.objects.get()
    assert access_key.display_prefix in stderr
    assert "does not expire" in stderr
    assert "shown only this once" in stderr
    assert access_key.name == "created with manage.py"
    assert access_key.expires_at is None


@pytest.mark.django_db
def test_create_takes_a_name_and_sets_the_expiry_from_expires_days(make_tenant):
    make_tenant("acme")
    before = timezone.now()
    _, stderr = create("acme", "--name", "  Claude Desktop, Ana ", "--expires-days", "30")
    access_key = AccessKey.objects.get()
    assert access_key.name == "Claude Desktop, Ana"
    assert before + timedelta(days=30) <= access_key.expires_at <= timezone.now() + timedelta(days=30)
    assert f"expires {access_key.expires_at:%Y-%m-%d}" in stderr


@pytest.mark.django_db
def test_create_normalises_the_client_id_like_the_model(make_tenant):
    tenant = make_tenant("acme")
    create("  ACME ")
    assert AccessKey.objects.get().tenant == tenant


@pytest.mark.django_db
def test_create_warns_when_the_tenant_is_disabled(make_tenant):
    make_tenant("acme", enabled=False)
    _, stderr = create("acme")
    assert "disabled" in stderr
    assert AccessKey.objects.count() == 1


@pytest.mark.django_db
def test_create_for_an_unknown_tenant_is_an_error_and_creates_nothing(make_tenant):
    make_tenant("acme")
    with pytest.raises(CommandError, match="No tenant has the client id “globex”"):
        create("globex")
    assert not AccessKey.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("days", ["0", "-3", "36501"])
def test_create_with_expires_days_out_of_range_is_an_error(make_tenant, days):
    make_tenant("acme")
    with pytest.raises(CommandError, match="--expires-days must be between 1 and 36500"):
        create("acme", "--expires-days", days)
    assert not AccessKey.objects.exists()


@pytest.mark.django_db
def test_create_with_expires_days_not_a_number_is_an_error(make_tenant):
    make_tenant("acme")
    with pytest.raises(CommandError, match="invalid int value"):
        create("acme", "--expires-days", "soon")
    assert not AccessKey.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["   ", "x" * 101])
def test_create_with_a_blank_or_too_long_name_is_an_error(make_tenant, name):
    make_tenant("acme")
    with pytest.raises(CommandError, match="No key was created: name"):
        create("acme", "--name", name)
    assert not AccessKey.objects.exists()


@pytest.mark.django_db
def test_each_created_key_is_new(make_tenant):
    make_tenant("acme")
    first, _ = create("acme")
    second, _ = create("acme")
    assert first != second
    assert AccessKey.objects.count() == 2
