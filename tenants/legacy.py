"""Read the legacy environment configuration (`CLIENTS_CONFIG` or the single-tenant variables).

Pure parsing and validation for `import_legacy_env`: nothing here writes to the database.
Every problem message names a client id and a key, never a value, because the values hold
upstream tokens and the raw input may be echoed to a terminal or a CI log.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError

from tenants.crypto import TokenDecryptionError
from tenants.identifiers import normalise_client_id
from tenants.models import (
    DEFAULT_CLIENT_BASE_URL,
    DEFAULT_CORE_BASE_URL,
    DEFAULT_HTTP_TIMEOUT_MS,
    ClientConfig,
)

# Some hosts limit environment size, so CLIENTS_CONFIG may be gzip + base64; gzip's magic
# bytes 1f 8b 08 always encode to this prefix, and plain JSON can never start with it.
GZIP_BASE64_PREFIX = "H4sI"
SINGLE_TENANT_ID = "default"

# Model field -> CLIENTS_CONFIG key.
CONFIG_KEYS = {
    "authorization": "authorization",
    "core_base_url": "coreBaseUrl",
    "client_base_url": "clientBaseUrl",
    "client_header": "clientHeader",
    "http_timeout_ms": "httpTimeoutMs",
    "name": "name",
    "description": "description",
}
# Model field -> single-tenant environment variable.
ENV_VARS = {
    "authorization": "AUTHORIZATION",
    "core_base_url": "CORE_BASE_URL",
    "client_base_url": "CLIENT_BASE_URL",
    "client_header": "CLIENT_HEADER",
    "http_timeout_ms": "HTTP_TIMEOUT_MS",
}
# What the legacy deployment used when a setting was not given.
LEGACY_DEFAULTS: dict[str, Any] = {
    "authorization": "",
    "core_base_url": DEFAULT_CORE_BASE_URL,
    "client_base_url": DEFAULT_CLIENT_BASE_URL,
    "client_header": "",
    "http_timeout_ms": DEFAULT_HTTP_TIMEOUT_MS,
}
URL_FIELDS = ("core_base_url", "client_base_url")
MAX_SHOWN_ID = 64


class LegacyConfigError(Exception):
    """The legacy configuration cannot be imported; `problems` holds every reason found."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass(frozen=True, slots=True)
class LegacyTenant:
    """One validated tenant from the legacy configuration.

    `values` maps model field names to the values to write. `name` and `description` are in
    it only when the input gave them, so that an update does not undo a name set by staff.
    """

    client_id: str
    values: dict[str, Any] = field(repr=False)

    def new_instance(self) -> ClientConfig:
        return ClientConfig(**{"client_id": self.client_id, "name": self.client_id, **self.values})


class _JsonObject(dict[str, Any]):
    """A JSON object that remembers keys given twice, which `json.loads` would silently merge."""

    duplicates: list[str]

    @classmethod
    def from_pairs(cls, pairs: list[tuple[str, Any]]) -> _JsonObject:
        obj = cls()
        obj.duplicates = []
        for key, value in pairs:
            if key in obj:
                obj.duplicates.append(key)
            obj[key] = value
        return obj


def shown_id(client_id: str) -> str:
    """A client id or key as problem messages show it: quoted, so an empty or odd one is visible."""
    if len(client_id) > MAX_SHOWN_ID:
        client_id = client_id[:MAX_SHOWN_ID] + "…"
    return repr(client_id)


def json_type(value: Any) -> str:
    """The JSON name of a value's type, to say what was found without showing the value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def decode_clients_config(text: str, source: str) -> Any:
    """Decode CLIENTS_CONFIG text, plain JSON or gzip + base64, into Python data."""
    text = text.strip()
    if text.startswith(GZIP_BASE64_PREFIX):
        text = _gunzip_base64(text, source)
    try:
        return json.loads(text, object_pairs_hook=_JsonObject.from_pairs)
    except json.JSONDecodeError as error:
        # Built from the position only: the text around the error may be a token.
        raise LegacyConfigError(
            [f"{source}: not valid JSON ({error.msg} at line {error.lineno}, column {error.colno})."]
        ) from None
    except (ValueError, RecursionError):
        raise LegacyConfigError([f"{source}: not valid JSON."]) from None


def _gunzip_base64(text: str, source: str) -> str:
    # Hosts and `base64` itself may wrap long values over several lines.
    compact = "".join(text.split())
    try:
        compressed = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        raise LegacyConfigError([f"{source}: starts with H4sI but is not valid base64."]) from None
    try:
        return gzip.decompress(compressed).decode("utf-8")
    except (OSError, EOFError, zlib.error):
        raise LegacyConfigError([f"{source}: base64 decodes, but not to valid gzip data."]) from None
    except UnicodeDecodeError:
        raise LegacyConfigError([f"{source}: the gzip content is not UTF-8 text."]) from None


def parse_clients_config(text: str, source: str) -> list[LegacyTenant]:
    """Validate every entry of CLIENTS_CONFIG text; raise LegacyConfigError listing every problem."""
    data = decode_clients_config(text, source)
    if not isinstance(data, _JsonObject):  # what json.loads makes of every object here
        raise LegacyConfigError(
            [f"{source}: must be a JSON object mapping client id to settings, not {json_type(data)}."]
        )
    if not data:
        raise LegacyConfigError([f"{source}: is an empty object; there is no tenant to import."])
    problems = [f"{source}: client id {shown_id(key)} is given more than once." for key in data.duplicates]
    tenants = []
    for raw_id, entry in data.items():
        values = _entry_values(raw_id, entry, problems)
        if values is not None:
            tenants.append(_validated(raw_id, values, CONFIG_KEYS, problems))
    return _checked(tenants, problems, source)


def parse_single_tenant(environ: Mapping[str, str]) -> list[LegacyTenant]:
    """Read the single-tenant variables as tenant `default`; raise LegacyConfigError if invalid."""
    problems: list[str] = []
    values: dict[str, Any] = {}
    for field_name, var in ENV_VARS.items():
        # An empty variable counts as unset, as it did in the legacy deployment.
        raw = environ.get(var, "")
        if raw == "":
            continue
        if field_name == "http_timeout_ms":
            try:
                values[field_name] = int(raw)
            except ValueError:
                problems.append(f"{shown_id(SINGLE_TENANT_ID)}: {var}: must be a whole number of ms.")
                continue
        else:
            values[field_name] = raw
    tenant = _validated(SINGLE_TENANT_ID, values, ENV_VARS, problems)
    return _checked([tenant], problems, "the single-tenant variables")


def has_single_tenant_vars(environ: Mapping[str, str]) -> bool:
    return any(environ.get(var) for var in ENV_VARS.values())


def _entry_values(raw_id: str, entry: Any, problems: list[str]) -> dict[str, Any] | None:
    """The settings of one CLIENTS_CONFIG entry by model field, or None if its shape is wrong."""
    label = shown_id(raw_id)
    if not isinstance(entry, _JsonObject):
        problems.append(f"{label}: must be a JSON object of settings, not {json_type(entry)}.")
        return None
    known = set(CONFIG_KEYS.values())
    problems.extend(f"{label}: {key}: given more than once." for key in entry.duplicates)
    problems.extend(
        f"{label}: {shown_id(key)}: unknown key; expected {', '.join(CONFIG_KEYS.values())}."
        for key in entry
        if key not in known
    )
    values = {}
    for field_name, key in CONFIG_KEYS.items():
        value = entry.get(key)
        if value is None:
            # Absent, or null as a JavaScript config would write it: the legacy default applies.
            continue
        expected = int if field_name == "http_timeout_ms" else str
        # type(), not isinstance(): a JSON true must not pass as the integer 1.
        if type(value) is not expected:
            wanted = "a whole number" if expected is int else "a string"
            problems.append(f"{label}: {key}: must be {wanted}, not {json_type(value)}.")
        else:
            values[field_name] = value
    return values


def _validated(
    raw_id: str, values: dict[str, Any], keys: Mapping[str, str], problems: list[str]
) -> LegacyTenant:
    """Check one tenant with the model's own field validation and return it normalised."""
    values = {**LEGACY_DEFAULTS, **values}
    if not values.get("name"):
        # An empty name means "not given": the model requires one, and it defaults to the id.
        values.pop("name", None)
    for url_field in URL_FIELDS:
        # The model drops a trailing slash on save; do it now so that comparisons agree.
        values[url_field] = values[url_field].rstrip("/")
    tenant = LegacyTenant(normalise_client_id(raw_id), values)
    try:
        # Uniqueness is not checked: an existing tenant is something to skip or update, not an error.
        tenant.new_instance().full_clean(exclude=[] if "name" in values else ["name"], validate_unique=False)
    except ValidationError as error:
        problems.extend(field_problems(raw_id, error, keys))
    return tenant


def field_problems(raw_id: str, error: ValidationError, keys: Mapping[str, str]) -> list[str]:
    """One line per model validation message, naming the tenant and the legacy key."""
    label = shown_id(raw_id)
    problems: list[str] = []
    for field_name, messages in error.message_dict.items():
        if field_name == "client_id":
            key = "client id"
        elif field_name == NON_FIELD_ERRORS:
            key = "entry"
        else:
            key = keys.get(field_name, field_name)
        # dict.fromkeys: a value can break two validators that say the same thing.
        problems.extend(f"{label}: {key}: {message}" for message in dict.fromkeys(messages))
    return problems


def _checked(tenants: list[LegacyTenant], problems: list[str], source: str) -> list[LegacyTenant]:
    """Raise with every problem found, including ids that only collide once lowercased."""
    seen: set[str] = set()
    for tenant in tenants:
        if tenant.client_id in seen:
            problems.append(
                f"{source}: several entries are client id {shown_id(tenant.client_id)} once lowercased."
            )
        seen.add(tenant.client_id)
    if problems:
        raise LegacyConfigError(problems)
    return tenants


def changed_fields(current: ClientConfig, wanted: LegacyTenant) -> list[str]:
    """Names of the fields whose values differ, with the token called "token"; never the values."""
    changed = []
    for model_field in ClientConfig._meta.concrete_fields:
        field_name = model_field.name
        if field_name not in wanted.values:
            continue
        if field_name == "authorization":
            try:
                differs = current.authorization != wanted.values[field_name]
            except TokenDecryptionError:
                # A token no configured key can read is only fixed by writing the new one.
                differs = True
            if differs:
                changed.append("token")
        elif getattr(current, field_name) != wanted.values[field_name]:
            changed.append(field_name)
    return changed
