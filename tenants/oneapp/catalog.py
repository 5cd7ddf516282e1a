"""The OneApp tool catalog as data: each of the 18 tools declared once, with its arguments, its
upstream base, method and path, and whether it writes.

Names, paths and query names follow the OneApp contract (docs/oneapp-contract.md) exactly:
existing MCP clients use them. Nothing here knows about MCP; `mcp_endpoint.tools` serves it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

from tenants.oneapp import arguments as args

WRITING_TOOL = "moai_visapp_foto"  # the only tool of the catalog that changes OneApp data


@dataclass(frozen=True)
class ToolSpec:
    name: str
    title: str  # for people: what a client shows in its tool list and approval prompts
    description: str
    base: Literal["core", "client"]
    path: str  # `{name}` placeholders are filled from the arguments of the same name
    arguments: type[args.Arguments] = args.NoArguments
    method: Literal["GET", "POST"] = "GET"
    query_names: Mapping[str, str] = field(default_factory=dict)  # argument -> query name, where they differ
    narrower_tools: tuple[
        str, ...
    ] = ()  # tools that answer a part of this one's answer (when it is too long)

    @property
    def read_only(self) -> bool:
        return self.method == "GET"

    @cached_property
    def path_arguments(self) -> frozenset[str]:
        return frozenset(name for name in self.arguments.model_fields if "{" + name + "}" in self.path)

    def upstream_request(self, values: Mapping[str, Any]) -> tuple[str, dict[str, str], Any]:
        """The path, query and JSON body for validated argument values; absent optionals are left out."""
        path = self.path.format(**{name: values[name] for name in self.path_arguments})
        present = {name: value for name, value in values.items() if value is not None}
        if self.method == "POST":
            return path, {}, present
        query = {
            self.query_names.get(name, name): _query_value(value)
            for name, value in present.items()
            if name not in self.path_arguments
        }
        return path, query, None


def _query_value(value: Any) -> str:
    return ",".join(str(item) for item in value) if isinstance(value, list) else str(value)


CATALOG: tuple[ToolSpec, ...] = (
    ToolSpec(
        "core_list_sucursales",
        "Listar sucursales",
        "Obtiene la lista completa de sucursales registradas para el cliente autenticado.",
        "core",
        "/core/sucursales",
        narrower_tools=("core_list_sucursales_by_zona",),
    ),
    ToolSpec(
        "core_list_zonas",
        "Listar zonas",
        "Obtiene las zonas del cliente: todas, o solo una si se indica zone_id.",
        "core",
        "/core/zonas",
        args.ZoneFilter,
        narrower_tools=("core_list_zonas_by_subgerencia",),
    ),
    ToolSpec(
        "core_list_subgerencias",
        "Listar subgerencias",
        "Obtiene todas las subgerencias del cliente, que agrupan zonas.",
        "core",
        "/core/subgerencias",
    ),
    ToolSpec(
        "core_list_zonas_by_subgerencia",
        "Zonas de una subgerencia",
        "Obtiene las zonas que pertenecen a una subgerencia, dado su ID.",
        "core",
        "/core/subgerencias/{id}/zonas",
        args.SubgerenciaId,
    ),
    ToolSpec(
        "core_list_sucursales_by_zona",
        "Sucursales de una zona",
        "Obtiene las sucursales que pertenecen a una zona, dado su ID.",
        "core",
        "/core/zonas/{zone_id}/sucursales",
        args.ZoneId,
    ),
    ToolSpec(
        "checklist_list_checks",
        "Listar checklists",
        "Lista los checklists activos, paginados, con búsqueda opcional por nombre.",
        "client",
        "/front/api/checklist/data/checks",
        args.ChecksQuery,
    ),
    ToolSpec(
        "checklist_list_ambitos",
        "Ámbitos de un checklist",
        "Lista los ámbitos (secciones) de un checklist, paginados.",
        "client",
        "/front/api/checklist/data/ambitos",
        args.CheckPage,
    ),
    ToolSpec(
        "checklist_list_preguntas",
        "Preguntas de un checklist",
        "Lista las preguntas de un checklist.",
        "client",
        "/front/api/checklist/data/preguntas",
        args.CheckId,
    ),
    ToolSpec(
        "checklist_list_cuestionarios",
        "Cuestionarios de un checklist",
        "Lista los cuestionarios aplicados de un checklist en un rango de fechas (YYYY-MM-DD), paginados.",
        "client",
        "/front/api/checklist/data/cuestionarios",
        args.CuestionariosQuery,
    ),
    ToolSpec(
        "checklist_list_asignaciones",
        "Asignaciones de un cuestionario",
        "Lista las asignaciones (a sucursales o personas) de un cuestionario, paginadas.",
        "client",
        "/front/api/checklist/data/asignaciones",
        args.AsignacionesQuery,
    ),
    ToolSpec(
        "checklist_list_respuestas",
        "Respuestas de un cuestionario",
        "Lista las respuestas de un cuestionario, o solo las de una asignación si se indica asignacion_id; "
        "paginadas.",
        "client",
        "/front/api/checklist/data/respuestas",
        args.RespuestasQuery,
    ),
    ToolSpec(
        "visual_areas",
        "Áreas visuales",
        "Obtiene las áreas de las campañas visuales: todas, o solo una si se indica area_id.",
        "core",
        "/visual/area",
        args.AreaFilter,
        query_names={"area_id": "id"},
    ),
    ToolSpec(
        "visual_categorias",
        "Categorías visuales",
        "Obtiene las categorías de las campañas visuales: todas, o solo una si se indica category_id.",
        "core",
        "/visual/category",
        args.CategoryFilter,
        query_names={"category_id": "id"},
    ),
    ToolSpec(
        "visual_area_categorias",
        "Categorías de áreas visuales",
        "Obtiene las categorías vinculadas a una o más áreas visuales (relación área-categoría).",
        "core",
        "/visual/category/areas",
        args.AreaIds,
        query_names={"areas_id": "areas"},
    ),
    ToolSpec(
        "visual_razones",
        "Criterios de evaluación visual",
        "Obtiene los criterios de evaluación (razones) de las campañas visuales: todos, o uno si se indica "
        "reason_id.",
        "core",
        "/visual/reason",
        args.ReasonFilter,
    ),
    ToolSpec(
        "visual_area_categoria_razones",
        "Criterios de categorías de área",
        "Obtiene los criterios de evaluación vinculados a categorías de área (relación muchos a muchos). "
        "Consulta antes visual_areas y visual_area_categorias para conocer los IDs.",
        "core",
        "/visual/reason/categories",
        args.CategoryIds,
        query_names={"categories_id": "categories"},
    ),
    ToolSpec(
        "moai_visapp_foto",
        "Evaluar una foto con Visapp MoAI",
        "Envía una foto (URL http/https) con sus criterios de evaluación a Visapp MoAI para que la evalúe. "
        "Es la única herramienta que escribe datos en OneApp.",
        "core",
        "/visual/moai",
        args.MoaiPhoto,
        method="POST",
    ),
    ToolSpec(
        "moai_visapp_foto_info",
        "Fotos enviadas a Visapp MoAI",
        "Obtiene todas las fotos enviadas a Visapp MoAI por el cliente, con su estado y resultado.",
        "core",
        "/visual/moai",
    ),
)

TOOL_NAMES: tuple[str, ...] = tuple(spec.name for spec in CATALOG)
