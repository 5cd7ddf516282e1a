"""The SQLite database, and the journal files beside it, readable and writable by their owner only.

SQLite creates its files with the process's umask, so usually 0644: anyone with a shell on the machine
could copy every tenant's settings, encrypted tokens and key hashes. scripts/serve migrates under
umask 077, so the database it creates is never readable by others, not even for a moment. This
receiver covers every other way (`manage.py migrate` run by hand, a file made before this fix): at
each new connection it takes the group's and others' permissions off the files that exist.
"""

from __future__ import annotations

import logging
import os
import stat
from typing import TYPE_CHECKING, Any

from django.db.backends.signals import connection_created
from django.dispatch import receiver

if TYPE_CHECKING:  # imported with the settings: only what the receiver needs, nothing that reads them
    from django.db.backends.base.base import BaseDatabaseWrapper

logger = logging.getLogger(__name__)

# WAL mode's two files, and the rollback journal of the other modes. SQLite gives a new one the
# database's own permissions, but one left over from an earlier run keeps its own.
_BESIDE = ("-wal", "-shm", "-journal")


@receiver(connection_created, dispatch_uid="oneapp_site.sqlite_files")
def make_sqlite_files_private(sender: Any, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    if connection.vendor != "sqlite":
        return
    name = os.fspath(connection.settings_dict["NAME"])  # ":memory:" and the like name no file
    for path in (name, *(name + suffix for suffix in _BESIDE)):
        try:
            mode = stat.S_IMODE(os.stat(path).st_mode)
            if mode & 0o077:
                os.chmod(path, mode & 0o700)
        except FileNotFoundError:
            continue
        except OSError as error:  # not ours to change, say
            logger.warning("could not make %s readable by its owner only: %s", path, error)
