# shellcheck shell=bash
# Sourced by scripts/serve and scripts/test: the project's virtual environment in .venv.
#
# ensure_venv creates .venv with Python 3.11+ when it is missing or broken, and installs
# requirements.txt only when the file changed since the last install (a hash is kept in
# .venv/.requirements.sha256). Run from the repository root.

VENV_DIR=.venv
VENV_STAMP="$VENV_DIR/.requirements.sha256"

_pick_python() {
    local candidate
    for candidate in "${PYTHON:-}" python3.11 python3; do
        [[ -n $candidate ]] || continue
        if command -v "$candidate" >/dev/null 2>&1 \
            && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            echo "$candidate"
            return 0
        fi
    done
    echo "error: Python 3.11 or newer is needed (tried \$PYTHON, python3.11, python3)." >&2
    return 1
}

_ensure_venv_locked() {
    if ! "$VENV_DIR/bin/python" -c '' >/dev/null 2>&1; then
        local python
        python=$(_pick_python)
        echo "Creating $VENV_DIR with $("$python" --version 2>&1)"
        "$python" -m venv --clear "$VENV_DIR"
    fi

    local wanted
    wanted=$(sha256sum requirements.txt | cut -d' ' -f1)
    if [[ ! -f $VENV_STAMP || $(<"$VENV_STAMP") != "$wanted" ]]; then
        echo "Installing requirements.txt into $VENV_DIR (the first time takes a minute)"
        "$VENV_DIR/bin/python" -m pip install --quiet --disable-pip-version-check -r requirements.txt
        echo "$wanted" >"$VENV_STAMP"
    fi
}

ensure_venv() {
    # Serialise concurrent runs (say scripts/serve and scripts/test started together) with a
    # lock on the scripts/ folder itself, held only while installing, so no lock file is left.
    if command -v flock >/dev/null 2>&1; then
        (
            flock 9
            _ensure_venv_locked
        ) 9<scripts
    else
        _ensure_venv_locked
    fi
}
