"""Every worker of every instance drops a changed tenant's server within about a second.

Each change to a tenant or its keys commits a `TenantChange` row (tenants/signals.py). Every
process polls for new rows with one indexed query per interval, from a daemon thread started by
its first /mcp request, and drops those tenants' servers.

Row ids are handed out at insert but become visible at commit, so on PostgreSQL a lower id can
appear after a higher one was read. An id skipped over is therefore remembered as a gap and
asked for again on every poll until it appears or is old enough to be a rolled-back insert.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db.models import Max, Q
from django.utils import timezone

from mcp_endpoint import connections
from tenants.models import TenantChange

logger = logging.getLogger(__name__)

GAP_GRACE_SECONDS = 300.0  # an insert not committed after this long is taken as rolled back
MAX_GAP = 100  # ids skipped further back than this are not waited for (no change is that concurrent)
KEEP_ROWS_FOR = timedelta(days=1)
PRUNE_EVERY_SECONDS = 3600.0


class ChangeFeed:
    """Reads the committed changes this process has not seen yet, gaps included."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.last_id: int | None = None
        self.gaps: dict[int, float] = {}  # id skipped over -> when it was first missed
        self.tokens_changed: set[str] = set()  # the last poll's client ids with only OAuth token changes

    def poll(self) -> set[str]:
        """The client ids changed since the last poll (one query; two the first time). Those whose only
        changes were of kind "tokens" are left in `tokens_changed` instead."""
        if self.last_id is None:
            # Start a grace period back rather than at the newest row: a server this process built
            # just before its first poll must not miss a change committed in between.
            settled = timezone.now() - timedelta(seconds=GAP_GRACE_SECONDS)
            self.last_id = (
                TenantChange.objects.filter(created_at__lt=settled).aggregate(id=Max("id"))["id"] or 0
            )
        rows = list(
            TenantChange.objects.filter(Q(id__gt=self.last_id) | Q(id__in=list(self.gaps)))
            .order_by("id")
            .values_list("id", "client_id", "kind")
        )
        now = self._clock()
        for row_id, _, _ in rows:
            self.gaps.pop(row_id, None)
            if row_id > self.last_id:
                skipped_from = max(self.last_id + 1, row_id - MAX_GAP)
                self.gaps.update(dict.fromkeys(range(skipped_from, row_id), now))
                self.last_id = row_id
        self.gaps = {gap: since for gap, since in self.gaps.items() if now - since < GAP_GRACE_SECONDS}
        changed = {client_id for _, client_id, kind in rows if kind != TenantChange.TOKENS}
        self.tokens_changed = {client_id for _, client_id, _ in rows} - changed
        return changed


def prune_old_changes() -> int:
    deleted, _ = TenantChange.objects.filter(created_at__lt=timezone.now() - KEEP_ROWS_FOR).delete()
    return deleted


class ChangePoller:
    """The daemon thread that applies the feed to this process's server cache."""

    def __init__(
        self, apply: Callable[[str], None], interval: float, apply_tokens: Callable[[str], None] | None = None
    ) -> None:
        self.apply = apply
        self.apply_tokens = apply_tokens  # for a tenant whose only changes were its OAuth tokens
        self.interval = interval
        self.feed = ChangeFeed()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tenant-change-poller", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        next_prune = time.monotonic() + PRUNE_EVERY_SECONDS
        while True:
            try:
                connections.drop_if_broken()
                for client_id in self.feed.poll():
                    self.apply(client_id)
                for client_id in self.feed.tokens_changed:
                    (self.apply_tokens or self.apply)(client_id)
                if time.monotonic() >= next_prune:
                    next_prune = time.monotonic() + PRUNE_EVERY_SECONDS
                    prune_old_changes()
            except Exception:
                # The database may be briefly away; the next poll catches up from the same point.
                logger.exception("could not read tenant changes; retrying in %.1f s", self.interval)
            if self._stop.wait(self.interval):
                return


_poller: ChangePoller | None = None
_poller_lock = threading.Lock()


def ensure_polling(apply: Callable[[str], None], apply_tokens: Callable[[str], None] | None = None) -> None:
    """Start this process's poller once (cheap to call on every request)."""
    global _poller
    if _poller is not None or settings.MCP_CHANGE_POLL_SECONDS <= 0:
        return
    with _poller_lock:
        if _poller is None:
            _poller = ChangePoller(apply, settings.MCP_CHANGE_POLL_SECONDS, apply_tokens)
            _poller.start()


def stop_polling() -> None:
    global _poller
    with _poller_lock:
        poller, _poller = _poller, None
    if poller is not None:
        poller.stop()
