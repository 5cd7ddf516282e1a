"""The apps' layers point one way: tenants <- mcp_endpoint <- oneapp_site."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at any depth (function-level imports included)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def offenders(package: str, forbidden: tuple[str, ...]) -> list[str]:
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for name in imported_modules(path):
            if name.split(".")[0] in forbidden:
                found.append(f"{path.relative_to(ROOT)} imports {name}")
    return found


def test_nothing_under_tenants_imports_mcp_endpoint_or_the_site():
    assert offenders("tenants", ("mcp_endpoint", "oneapp_site")) == []


def test_nothing_under_mcp_endpoint_imports_the_site():
    assert offenders("mcp_endpoint", ("oneapp_site",)) == []


def test_the_check_sees_function_level_imports(tmp_path):
    module = tmp_path / "module.py"
    module.write_text("def f():\n    from mcp_endpoint.cache import tenant_cache\n")
    assert imported_modules(module) == {"mcp_endpoint.cache"}
