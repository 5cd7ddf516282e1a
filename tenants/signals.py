"""Announce every change to a tenant or its access keys, in this process and to every other worker.

Each change writes a `TenantChange` row in the same transaction (other workers poll those), and
sends `tenant_changed` here once the transaction commits.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import Signal, receiver

from tenants.models import AccessKey, ClientConfig, TenantChange

# Sent after commit with `client_id`, in the process that made the change.
tenant_changed = Signal()


def note_tenant_change(client_id: str, using: str | None = None) -> None:
    """Record that a tenant's served configuration changed, for this process and every other one."""
    TenantChange.objects.using(using).create(client_id=client_id)
    transaction.on_commit(lambda: tenant_changed.send(sender=ClientConfig, client_id=client_id), using=using)


@receiver(post_save, sender=ClientConfig, dispatch_uid="tenants.tenant_saved")
@receiver(post_delete, sender=ClientConfig, dispatch_uid="tenants.tenant_deleted")
def _tenant_changed(sender: type[ClientConfig], instance: ClientConfig, using: str, **kwargs: Any) -> None:
    note_tenant_change(instance.client_id, using)


@receiver(post_save, sender=AccessKey, dispatch_uid="tenants.key_saved")
@receiver(post_delete, sender=AccessKey, dispatch_uid="tenants.key_deleted")
def _key_changed(sender: type[AccessKey], instance: AccessKey, using: str, **kwargs: Any) -> None:
    client_id = (
        ClientConfig.objects.using(using)
        .filter(pk=instance.tenant_id)
        .values_list("client_id", flat=True)
        .first()
    )
    if client_id is not None:  # a key deleted with its tenant: the tenant's own change covers it
        note_tenant_change(client_id, using)
