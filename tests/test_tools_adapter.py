"""The one adapter over the SDK's tool internals (mcp_endpoint/tools.py) holds what we rely on.

`FuncMetadata` and `ArgModelBase` are not exported by the SDK's public `mcp.server.mcpserver`:
an upgrade may change them without notice, so these tests name what must still hold.
"""

from importlib.metadata import version
from pathlib import Path

import pytest
from pydantic import ValidationError

from mcp_endpoint.tools import TOOLS
from tenants.oneapp.catalog import CATALOG

SERVED = {tool.name: tool for tool in TOOLS}
REQUIREMENTS = Path(__file__).resolve().parent.parent / "requirements.txt"


def test_the_installed_sdk_is_the_pinned_one_the_adapter_was_checked_against():
    pinned = next(line for line in REQUIREMENTS.read_text().splitlines() if line.startswith("mcp=="))
    assert version("mcp") == pinned.removeprefix("mcp==") == "2.3.0", (
        "The MCP SDK changed: re-check mcp_endpoint/tools.py (FuncMetadata, ArgModelBase), then update this pin."
    )


def test_every_catalog_tool_is_served_with_its_own_schema_and_argument_model():
    assert list(SERVED) == [spec.name for spec in CATALOG]
    for spec in CATALOG:
        tool = SERVED[spec.name]
        assert tool.parameters == spec.arguments.model_json_schema(by_alias=True)
        assert set(tool.fn_metadata.arg_model.model_fields) == set(spec.arguments.model_fields)


def test_the_sdk_validates_with_the_catalog_rules_unknown_arguments_included():
    metadata = SERVED["core_list_sucursales_by_zona"].fn_metadata
    assert metadata.validate_arguments({"zone_id": 7}) == {"zone_id": 7}
    for refused in ({"zone_id": 0}, {"zone_id": True}, {"zone_id": 7, "zona": 7}, {}):
        with pytest.raises(ValidationError):
            metadata.validate_arguments(refused)


def test_the_sdk_decodes_a_list_sent_as_a_json_string_as_clients_send_them():
    metadata = SERVED["visual_area_categorias"].fn_metadata
    assert metadata.validate_arguments({"areas_id": "[1, 2]"}) == {"areas_id": [1, 2]}
