"""Argument models of the OneApp tools: what a model may send, validated before any upstream call.

Each model forbids unknown fields, so a misspelt argument is reported instead of silently ignored.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

MAX_ID = 2**63 - 1
MAX_LIST_ITEMS = 100
MAX_TEXT = 200


def _not_bool(value: Any) -> Any:
    # pydantic would read true as 1; an id or page number is never a boolean.
    if isinstance(value, bool):
        raise ValueError("expected an integer, not a boolean")
    return value


def _real_date(value: str) -> str:
    try:
        date.fromisoformat(value)
    except ValueError:
        raise ValueError("not a real calendar date; use YYYY-MM-DD, e.g. 2024-01-31") from None
    return value


def _http_url(value: str) -> str:
    # urlsplit quietly drops tabs and newlines and strips leading spaces and controls, so it would
    # pass "ht\ttp://..." or " http://..."; the URL is forwarded as given, so such characters are refused.
    if any(char.isspace() or not char.isprintable() for char in value):
        raise ValueError("must be an http:// or https:// URL, without spaces or control characters")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http:// or https:// URL")
    return value


Id = Annotated[int, Field(ge=1, le=MAX_ID), BeforeValidator(_not_bool)]
IdList = Annotated[list[Id], Field(min_length=1, max_length=MAX_LIST_ITEMS)]
Page = Annotated[int, Field(ge=1, le=1_000_000), BeforeValidator(_not_bool)]
Limit = Annotated[int, Field(ge=1, le=100), BeforeValidator(_not_bool)]
IsoDate = Annotated[
    str,
    Field(pattern=r"^\d{4}-\d{2}-\d{2}$", json_schema_extra={"format": "date"}),
    AfterValidator(_real_date),
]
PAGE = Field(default=None, description="Número de página, desde 1.")
LIMIT = Field(default=None, description="Resultados por página, de 1 a 100.")


def _about(description: str, **kwargs: Any) -> Any:
    return Field(description=description, **kwargs)


class Arguments(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NoArguments(Arguments):
    pass


class ZoneFilter(Arguments):
    zone_id: Id | None = _about("ID de una zona; si se omite, se listan todas.", default=None)


class SubgerenciaId(Arguments):
    id: Id = _about("ID de la subgerencia cuyas zonas se quieren listar.")


class ZoneId(Arguments):
    zone_id: Id = _about("ID de la zona cuyas sucursales se quieren listar.")


class ChecksQuery(Arguments):
    page: Page | None = PAGE
    limit: Limit | None = LIMIT
    search: str | None = _about(
        "Texto a buscar en el nombre del checklist.", default=None, max_length=MAX_TEXT
    )


class CheckId(Arguments):
    check_id: Id = _about("ID del checklist.")


class CheckPage(CheckId):
    page: Page | None = PAGE
    limit: Limit | None = LIMIT


class CuestionariosQuery(Arguments):
    # Field order is the contract's query order.
    check_id: Id = _about("ID del checklist.")
    from_date: IsoDate = _about("Fecha inicial del rango, YYYY-MM-DD.")
    end_date: IsoDate = _about("Fecha final del rango, YYYY-MM-DD (incluida).")
    page: Page | None = PAGE
    limit: Limit | None = LIMIT

    @model_validator(mode="after")
    def _range_in_order(self) -> CuestionariosQuery:
        if self.from_date > self.end_date:
            raise ValueError("from_date must not be after end_date")
        return self


class AsignacionesQuery(Arguments):
    cuestionario_id: Id = _about("ID del cuestionario.")
    page: Page | None = PAGE
    limit: Limit | None = LIMIT


class RespuestasQuery(Arguments):
    cuestionario_id: Id = _about("ID del cuestionario.")
    asignacion_id: Id | None = _about(
        "ID de una asignación; si se omite, se listan las respuestas de todo el cuestionario.", default=None
    )
    page: Page | None = PAGE
    limit: Limit | None = LIMIT


class AreaFilter(Arguments):
    area_id: Id | None = _about("ID de un área visual; si se omite, se listan todas.", default=None)


class CategoryFilter(Arguments):
    category_id: Id | None = _about("ID de una categoría visual; si se omite, se listan todas.", default=None)


class AreaIds(Arguments):
    areas_id: IdList = _about("IDs de las áreas visuales, por ejemplo [1, 2, 3].")


class ReasonFilter(Arguments):
    reason_id: Id | None = _about(
        "ID de un criterio de evaluación; si se omite, se listan todos.", default=None
    )


class CategoryIds(Arguments):
    categories_id: IdList = _about("IDs de las categorías de área, por ejemplo [4, 5].")


Criterion = Annotated[str, Field(min_length=1, max_length=500)]


class MoaiPhoto(Arguments):
    foto_url: Annotated[str, AfterValidator(_http_url)] = _about(
        "URL http(s) pública de la foto a evaluar.", min_length=1, max_length=2048
    )
    criterios: list[Criterion] = _about(
        "Criterios de evaluación que MoAI debe aplicar a la foto.", min_length=1, max_length=MAX_LIST_ITEMS
    )
