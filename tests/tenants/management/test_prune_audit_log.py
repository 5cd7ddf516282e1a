"""`manage.py prune_audit_log`, against the real database."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from tenants.audit import ToolCall


def prune(*args: str) -> str:
    stdout = StringIO()
    call_command("prune_audit_log", *args, stdout=stdout, stderr=StringIO())
    return stdout.getvalue()


def calls_days_ago(*days: float) -> None:
    now = timezone.now()
    ToolCall.objects.bulk_create(
        ToolCall(
            at=now - timedelta(days=ago),
            client_id="acme",
            tool="core_list_zonas",
            outcome="ok",
            duration_ms=1,
        )
        for ago in days
    )


def ages_left() -> list[int]:
    now = timezone.now()
    return sorted(
        round((now - at).total_seconds() / 86400) for at in ToolCall.objects.values_list("at", flat=True)
    )


@pytest.mark.django_db
def test_rows_older_than_the_retention_setting_go_and_the_count_is_reported(settings):
    settings.AUDIT_LOG_RETENTION_DAYS = 30
    calls_days_ago(0, 29, 31, 45, 400)

    assert prune() == "Deleted 3 audit log rows older than 30 days.\n"
    assert ages_left() == [0, 29]


@pytest.mark.django_db
def test_a_second_run_deletes_nothing():
    calls_days_ago(1, 91)
    assert prune() == "Deleted 1 audit log row older than 90 days.\n"  # the default, 90 days
    assert prune() == "Deleted 0 audit log rows older than 90 days.\n"
    assert ages_left() == [1]


@pytest.mark.django_db
def test_a_backlog_goes_in_batches_until_none_is_left(django_assert_num_queries):
    calls_days_ago(*[100] * 7, 2)
    # Each batch: one query for the ids, one to delete them; then one more that finds none.
    with django_assert_num_queries(3 * 2 + 1):
        assert prune("--days", "7", "--batch", "3") == "Deleted 7 audit log rows older than 7 days.\n"
    assert ages_left() == [2]


@pytest.mark.django_db
@pytest.mark.parametrize("args", [["--days", "0"], ["--batch", "0"], ["--days", "-3"]])
def test_nonsense_numbers_are_refused_and_nothing_is_deleted(args):
    calls_days_ago(400)
    with pytest.raises(CommandError, match="must be at least 1"):
        prune(*args)
    assert ToolCall.objects.count() == 1
