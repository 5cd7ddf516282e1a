"""The official MCP conformance suite (@modelcontextprotocol/conformance, server mode, active suite)
against the real server, over real HTTP.

The suite sends no headers of its own, so a small proxy (tests/live_server.HeaderAddingProxy) adds
tenant acme's X-Client-ID and access key. Every scenario that applies to a tools-only, stateless
server must pass; docs/conformance.md lists the others and why they do not apply, and a test here
keeps that list and the suite's in step.
"""

from __future__ import annotations

import json
import logging
import re
import subprocess
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from django.test import override_settings

from tenants.models import ClientConfig
from tests.fake_upstream import FakeOneApp
from tests.helpers import ACME_KEY, CANARY_TOKEN, CORE, give_key
from tests.live_server import HeaderAddingProxy
from tests.node_tools import node_command, node_env

APPLICABLE = ["server-initialize", "ping", "tools-list", "dns-rebinding-protection"]
# Transactional: the tenant the run needs is committed for the live server, and flushed after the first test.
pytestmark = pytest.mark.django_db(transaction=True)
NOT_APPLICABLE_DOC = Path(__file__).resolve().parents[1] / "docs" / "conformance.md"

Checks = list[dict[str, Any]]


class Run(NamedTuple):
    scenarios: dict[str, Checks]  # the checks of each scenario the suite ran
    printed: str  # what the suite printed (its summary), for a failure's message
    logged: list[logging.LogRecord]  # what the server logged at WARNING or above meanwhile
    upstream: FakeOneApp


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(scope="module")
def conformance_run(
    django_db_setup: None, django_db_blocker: Any, live_server_url: str, tmp_path_factory: Any
) -> Run:
    """The active suite, run once against tenant acme, whose OneApp is the fake one."""
    output = tmp_path_factory.mktemp("conformance")
    upstream = FakeOneApp().start()
    proxy = HeaderAddingProxy(
        live_server_url, {"X-Client-ID": "acme", "Authorization": f"Bearer {ACME_KEY}"}
    ).start()
    logged = _Records()
    logging.getLogger().addHandler(logged)
    try:
        # Unblocked for the whole run: the live server reads the tenant from its own thread. The
        # DNS-rebinding scenario's "valid" request comes from the proxy's own origin.
        with django_db_blocker.unblock(), override_settings(MCP_ALLOWED_ORIGINS=[proxy.url]):
            _add_acme(upstream)
            suite = subprocess.run(
                [node_command("conformance"), "server", "--url", proxy.url + "/mcp", "-o", str(output)],
                env=node_env(),
                capture_output=True,
                text=True,
                timeout=600,
                check=False,  # it exits 1 for the scenarios that do not apply: judged one by one below
            )
    finally:
        logging.getLogger().removeHandler(logged)
        proxy.stop()
        upstream.stop()
    return Run(_scenarios(output), suite.stdout[-4000:] + suite.stderr[-4000:], logged.records, upstream)


def _add_acme(upstream: FakeOneApp) -> None:
    tenant = ClientConfig(
        client_id="acme",
        name="Acme",
        core_base_url=upstream.url + CORE,
        client_base_url=upstream.url,
        authorization=CANARY_TOKEN,
        client_header="acme",
    )
    tenant.save()
    give_key(tenant, ACME_KEY)


def _scenarios(output: Path) -> dict[str, Checks]:
    """The checks of each scenario, from the suite's <output>/server-<scenario>-<time>/checks.json."""
    results = {}
    for checks in output.glob("server-*/checks.json"):
        scenario = re.sub(r"-\d{4}-\d\d-\d\dT.*$", "", checks.parent.name).removeprefix("server-")
        results[scenario] = json.loads(checks.read_text())
    return results


def not_applicable() -> dict[str, str]:
    """The scenarios docs/conformance.md says do not apply, with the reason it gives."""
    rows = re.findall(r"^\| `([a-z0-9-]+)` \| (.+?) \|$", NOT_APPLICABLE_DOC.read_text(), re.MULTILINE)
    return dict(rows)


@pytest.mark.parametrize("scenario", APPLICABLE)
def test_every_applicable_scenario_passes(conformance_run, scenario):
    checks = conformance_run.scenarios.get(scenario)
    assert checks, f"the suite did not run {scenario}:\n{conformance_run.printed}"
    failed = [check for check in checks if check["status"] not in ("SUCCESS", "INFO")]
    assert failed == [], json.dumps(failed, indent=1)
    assert any(check["status"] == "SUCCESS" for check in checks)


def test_every_other_scenario_of_the_active_suite_is_written_down_with_its_reason(conformance_run):
    documented = not_applicable()
    assert all(reason.strip() for reason in documented.values())
    assert set(APPLICABLE).isdisjoint(documented)
    assert sorted(conformance_run.scenarios) == sorted([*APPLICABLE, *documented])


def test_the_run_logged_no_error_and_no_traceback_and_never_reached_oneapp(conformance_run):
    logged = conformance_run.logged
    # A refused DNS-rebinding request is one WARNING line (a Host not in ALLOWED_HOSTS); nothing worse.
    assert [(record.levelname, record.getMessage()) for record in logged] == [
        ("WARNING", "refused a request for a host not in ALLOWED_HOSTS")
    ]
    assert not [record for record in logged if record.exc_info]
    # The suite calls test tools of its own, which this server refuses as unknown tools.
    assert conformance_run.upstream.received == []
