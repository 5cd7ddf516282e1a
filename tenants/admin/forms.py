"""The tenant form (write-only token, tool allow-list) and the access key form (new keys generated on save)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

from tenants.keys import generate_key, hash_key
from tenants.models import (
    RESPONSE_BUDGET_TOO_LARGE,
    RESPONSE_BUDGET_TOO_SMALL,
    AccessKey,
    ClientConfig,
    validate_header_value,
)
from tenants.oneapp.catalog import CATALOG, TOOL_NAMES, WRITING_TOOL

TOKEN_FIELD = "new_token"  # noqa: S105 - a form field name, not a secret
# Where the stored token goes, and for whom. Changing any of them asks for the token again (or for
# clearing it): otherwise staff who may edit a tenant could point its token at a host of their own,
# press "Test connection" and read it there.
TOKEN_DESTINATION_FIELDS = ("core_base_url", "client_base_url", "client_header")


def _tool_label(name: str, description: str) -> SafeString:
    writes = " (writes to OneApp)" if name == WRITING_TOOL else ""
    return format_html('<code>{}</code>{} <span class="help">— {}</span>', name, writes, description)


TOOL_CHOICES = [(spec.name, _tool_label(spec.name, spec.description)) for spec in CATALOG]


class ClientConfigForm(forms.ModelForm[ClientConfig]):
    allowed_tools = forms.MultipleChoiceField(
        label="Allowed tools",
        choices=TOOL_CHOICES,
        required=False,
        widget=forms.CheckboxSelectMultiple(attrs={"class": "radiolist"}),  # admin CSS for choice lists
        help_text="The tools this tenant's MCP clients see and may call. None ticked: all of them, "
        "including tools added to the catalog later. Saving applies it in every worker within about "
        "a second.",
    )
    new_token = forms.CharField(
        label="Upstream token",
        required=False,
        strip=True,
        validators=[validate_header_value],
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Sent verbatim as the Authorization header to OneApp (for example "
        "“Bearer …”). Write-only: it is stored encrypted and never shown again. "
        "Leave blank to keep the current token, except when you change a base URL or the client "
        "header: then enter the token again (or clear it), as the stored token is never sent to a "
        "new address.",
    )
    clear_token = forms.BooleanField(
        label="Clear token",
        required=False,
        help_text="Remove the stored token; OneApp is then called without an Authorization header.",
    )

    class Meta:
        model = ClientConfig
        exclude = ["authorization"]
        # A PositiveIntegerField's form field refuses a negative number itself, in Django's generic
        # words; these are the model's own, for the whole range.
        error_messages = {
            "response_budget_chars": {
                "min_value": RESPONSE_BUDGET_TOO_SMALL,
                "max_value": RESPONSE_BUDGET_TOO_LARGE,
            }
        }
        # Read-only fields on the change page take their help from here too.
        help_texts = {
            "description": "Notes for staff; MCP clients and OneApp never see them.",
            "token_status": "The last four characters of the stored token, at most. "
            "Use “Test connection” above to check that OneApp accepts it.",
            "cache_status": "Whether the worker that rendered this page holds this tenant's MCP server "
            "in memory. Other workers keep their own. Saving the tenant, or “Drop cached server”, "
            "makes every worker rebuild it from the database on its next request.",
            "created_at": "When this tenant was added.",
            "updated_at": "When this tenant was last saved. Changes to its access keys do not count.",
        }

    _stored_destination: dict[str, str]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance._state.adding:  # a new tenant has no token to clear
            del self.fields["clear_token"]
            return
        # As loaded, before this form's data reaches the instance (ModelForm does that after clean()).
        self._stored_destination = {name: getattr(self.instance, name) for name in TOKEN_DESTINATION_FIELDS}
        for name in TOKEN_DESTINATION_FIELDS:
            if name in self.fields:
                field = self.fields[name]
                field.help_text = f"{field.help_text} Changing it asks for the token again."

    def clean_allowed_tools(self) -> list[str]:
        chosen = set(self.cleaned_data["allowed_tools"])
        return [name for name in TOOL_NAMES if name in chosen]  # catalog order, whatever the post's

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data  # what ModelForm.clean returns; its stub says it may be None
        if cleaned.get(TOKEN_FIELD) and cleaned.get("clear_token"):
            raise forms.ValidationError("Either enter a new token or clear it, not both.")
        changed = self._changed_destination()
        keeps_token = not cleaned.get(TOKEN_FIELD) and not cleaned.get("clear_token")
        if changed and keeps_token and self.instance.has_token and TOKEN_FIELD not in self.errors:
            self.add_error(
                TOKEN_FIELD if TOKEN_FIELD in self.fields else None,
                forms.ValidationError(
                    "You changed the %(fields)s: enter the token again, or tick “Clear token”. "
                    "The stored token is only ever sent where it was entered for.",
                    code="token_required",
                    params={"fields": " and the ".join(changed)},
                ),
            )
        return cleaned

    def _changed_destination(self) -> list[str]:
        """The names of the fields that say where the token goes and that this form changes."""
        if self.instance._state.adding:
            return []
        changed = []
        for name in TOKEN_DESTINATION_FIELDS:
            if name not in self.cleaned_data:  # not on this form, or invalid (its own error says so)
                continue
            before, after = self._stored_destination[name], self.cleaned_data[name]
            if name.endswith("_url"):  # saved without a trailing slash (ClientConfig.save)
                before, after = before.rstrip("/"), after.rstrip("/")
            if before != after:
                label = str(self.fields[name].label)  # "Core base URL", from the model's "core base URL"
                changed.append(label[:1].lower() + label[1:])
        return changed

    def save(self, commit: bool = True) -> ClientConfig:
        if self.cleaned_data.get("clear_token"):
            self.instance.authorization = ""
        elif self.cleaned_data.get(TOKEN_FIELD):
            self.instance.authorization = self.cleaned_data[TOKEN_FIELD]
        return super().save(commit)


class AccessKeyForm(forms.ModelForm[AccessKey]):
    revoke = forms.BooleanField(
        label="Revoke",
        required=False,
        help_text="Tick and save to revoke the key: it stops working at once. This cannot be undone.",
    )

    class Meta:
        model = AccessKey
        fields = ["name", "expires_at"]
        help_texts = {
            "name": "Who or what uses this key. Saving a new row creates the key and shows it once, "
            "on the next page.",
            "key_prefix": "The start of the key, to recognise it; the rest is never stored.",
            "created_at": "When the key was created.",
            "last_used_at": "The last request made with this key, to within a minute.",
            "revoked_at": "When the key was revoked; from then on it is refused.",
            "tenant": "The tenant this key acts for.",
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.new_key: str | None = None
        if self.instance._state.adding or self.instance.revoked_at is not None:
            self.fields["revoke"].disabled = True

    def clean_expires_at(self) -> datetime | None:
        expires_at: datetime | None = self.cleaned_data["expires_at"]
        if "expires_at" in self.changed_data and expires_at and expires_at <= timezone.now():
            raise forms.ValidationError("Pick a moment in the future; to stop a key now, revoke it.")
        return expires_at

    def save(self, commit: bool = True) -> AccessKey:
        if self.instance._state.adding:
            # As AccessKey.issue does; the key itself stays in this form, for this request only.
            self.new_key, self.instance.prefix = generate_key()
            self.instance.key_hash = hash_key(self.new_key)
        access_key = super().save(commit)
        if self.cleaned_data.get("revoke"):
            access_key.revoke()  # a save of its own, so every worker drops the tenant's server
        return access_key
