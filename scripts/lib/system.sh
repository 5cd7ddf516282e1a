# shellcheck shell=bash
# Sourced by the other scripts/lib helpers: what they need of the machine.
#
#   apt_install WHAT PACKAGE...   installs Debian packages (as root, or through sudo); without either,
#                                 says that WHAT is missing and how to install it, and fails
#   free_loopback_port            prints a TCP port free on 127.0.0.1 now

apt_install() {
    local what=$1
    shift
    local -a as_root=()
    if [[ $EUID -ne 0 ]]; then
        if command -v sudo >/dev/null 2>&1; then
            as_root=(sudo)
        else
            echo "error: $what is not installed, and installing it needs root:" >&2
            echo "run 'apt-get install $*' as root, or run as root." >&2
            return 1
        fi
    fi
    echo "Installing Debian's $* package(s)"
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq \
        && "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
            apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

free_loopback_port() {
    .venv/bin/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
