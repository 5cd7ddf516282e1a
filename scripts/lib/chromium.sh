# shellcheck shell=bash
# Sourced by scripts/test: Debian's Chromium for the browser tests (browsers cannot be downloaded
# here, so Playwright drives /usr/bin/chromium).
#
#   ensure_chromium   installs the chromium and chromium-driver packages when /usr/bin/chromium is
#                     missing; if that is impossible it says so loudly and fails, so a run without
#                     browser tests can never pass unnoticed.

CHROMIUM_BIN=/usr/bin/chromium

ensure_chromium() {
    if [[ -x $CHROMIUM_BIN ]]; then
        return 0
    fi
    local -a as_root=()
    if [[ $EUID -ne 0 ]]; then
        if command -v sudo >/dev/null 2>&1; then
            as_root=(sudo)
        else
            _chromium_missing "installing it needs root, and sudo is not available"
            return 1
        fi
    fi
    echo "Installing Debian's chromium and chromium-driver packages"
    if ! "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq \
        || ! "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
            apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null \
        || [[ ! -x $CHROMIUM_BIN ]]; then
        _chromium_missing "apt-get could not install the chromium package"
        return 1
    fi
}

_chromium_missing() {
    {
        echo
        echo "################################################################################"
        echo "#  CHROMIUM IS NOT AVAILABLE: $1."
        echo "#  The admin's browser tests cannot run, so this test run FAILS."
        echo "#  Install it with: apt-get install chromium chromium-driver"
        echo "################################################################################"
        echo
    } >&2
}
