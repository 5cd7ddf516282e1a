# shellcheck shell=bash
# Sourced by scripts/test: Debian's Chromium for the browser tests (browsers cannot be downloaded
# here, so Playwright drives /usr/bin/chromium).
#
#   ensure_chromium   installs the chromium and chromium-driver packages when /usr/bin/chromium is
#                     missing; if that is impossible it says so loudly and fails, so a run without
#                     browser tests can never pass unnoticed.

# shellcheck source=SCRIPTDIR/system.sh
source scripts/lib/system.sh

CHROMIUM_BIN=/usr/bin/chromium

ensure_chromium() {
    if [[ -x $CHROMIUM_BIN ]]; then
        return 0
    fi
    if ! apt_install chromium chromium chromium-driver || [[ ! -x $CHROMIUM_BIN ]]; then
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
