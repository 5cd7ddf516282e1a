"""Announce every change to a tenant, its access keys, its members or their OAuth tokens, in this process
and to every other worker.

Each change writes a `TenantChange` row in the same transaction (other workers poll those), and
sends `tenant_changed` here once the transaction commits.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import Signal, receiver
from oauth2_provider.models import get_access_token_model

from tenants.models import AccessKey, ClientConfig, Membership, TenantChange
from tenants.oauth.resources import client_id_in

# Sent after commit with `client_id` and `tokens_only`, in the process that made the change.
tenant_changed = Signal()


def note_tenant_change(client_id: str, using: str | None = None, *, tokens_only: bool = False) -> None:
    """Record that a tenant's served configuration changed (or, `tokens_only`, who may hold OAuth tokens
    for it), for this process and every other one."""
    kind = TenantChange.TOKENS if tokens_only else TenantChange.TENANT
    TenantChange.objects.using(using).create(client_id=client_id, kind=kind)
    transaction.on_commit(
        lambda: tenant_changed.send(sender=ClientConfig, client_id=client_id, tokens_only=tokens_only),
        using=using,
    )


@receiver(post_save, sender=ClientConfig, dispatch_uid="tenants.tenant_saved")
@receiver(post_delete, sender=ClientConfig, dispatch_uid="tenants.tenant_deleted")
def _tenant_changed(sender: type[ClientConfig], instance: ClientConfig, using: str, **kwargs: Any) -> None:
    note_tenant_change(instance.client_id, using)


@receiver(post_save, sender=AccessKey, dispatch_uid="tenants.key_saved")
@receiver(post_delete, sender=AccessKey, dispatch_uid="tenants.key_deleted")
def _key_changed(sender: type[AccessKey], instance: AccessKey, using: str, **kwargs: Any) -> None:
    _tenant_row_changed(instance.tenant_id, using)


@receiver(post_save, sender=Membership, dispatch_uid="tenants.membership_saved")
@receiver(post_delete, sender=Membership, dispatch_uid="tenants.membership_deleted")
def _member_changed(sender: type[Membership], instance: Membership, using: str, **kwargs: Any) -> None:
    _tenant_row_changed(instance.tenant_id, using, tokens_only=True)


def _tenant_row_changed(tenant_id: int, using: str, tokens_only: bool = False) -> None:
    client_id = (
        ClientConfig.objects.using(using).filter(pk=tenant_id).values_list("client_id", flat=True).first()
    )
    if client_id is not None:  # a row deleted with its tenant: the tenant's own change covers it
        note_tenant_change(client_id, using, tokens_only=tokens_only)


# An access token is revoked by deleting it (also when its refresh token, grant or client is revoked or
# deleted): the workers that checked it must forget it.
@receiver(post_delete, sender=get_access_token_model(), dispatch_uid="tenants.oauth_token_deleted")
def _token_deleted(sender: type[Any], instance: Any, using: str, **kwargs: Any) -> None:
    client_id = client_id_in(instance.resource)
    if client_id is not None:
        note_tenant_change(client_id, using, tokens_only=True)


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="tenants.user_saved")
def _user_saved(sender: type[Any], instance: Any, using: str, **kwargs: Any) -> None:
    # Deactivated: the tokens the user let clients have stop working. (Not on every save: a sign-in
    # saves last_login.)
    if not instance.is_active:
        for tenant_id in (
            Membership.objects.using(using).filter(user=instance).values_list("tenant_id", flat=True)
        ):
            _tenant_row_changed(tenant_id, using, tokens_only=True)
