"""Issue 9, item 14 (b): the SQLite database is created readable by its owner only (0600)."""

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.conf import settings
from django.db.utils import ConnectionHandler

REPO = Path(__file__).resolve().parents[2]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def usual_umask():
    """The umask most shells have, under which SQLite would create its files 0644."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def sqlite_settings(name: Path) -> dict:
    """The project's SQLite settings (WAL and all) for another file; SQLite's bare ones on PostgreSQL runs."""
    default = settings.DATABASES["default"]
    if default["ENGINE"] == "django.db.backends.sqlite3":
        return {**default, "NAME": str(name), "TEST": {}}
    return {"ENGINE": "django.db.backends.sqlite3", "NAME": str(name)}


def connect_and_write(name: Path, django_db_blocker) -> None:
    """Open a connection the way the project does (Django's, with its receivers) and write a table."""
    connections = ConnectionHandler({"default": sqlite_settings(name)})
    connection = connections["default"]
    try:
        with django_db_blocker.unblock(), connection.cursor() as cursor:
            cursor.execute("CREATE TABLE t (x INTEGER)")
            cursor.execute("INSERT INTO t VALUES (1)")
        files = sorted(path.name for path in name.parent.iterdir())
        assert {path: oct(mode(name.parent / path)) for path in files} == {path: "0o600" for path in files}
    finally:
        connection.close()


def test_a_new_database_file_is_made_0600_under_the_usual_umask(tmp_path, usual_umask, django_db_blocker):
    database = tmp_path / "new.sqlite3"

    connect_and_write(database, django_db_blocker)

    assert mode(database) == 0o600


def test_an_existing_world_readable_database_is_narrowed_at_the_next_connection(
    tmp_path, usual_umask, django_db_blocker
):
    database = tmp_path / "old.sqlite3"
    database.touch()
    database.chmod(0o644)
    (tmp_path / "old.sqlite3-shm").touch()
    (tmp_path / "old.sqlite3-shm").chmod(0o664)

    connect_and_write(database, django_db_blocker)

    assert mode(database) == 0o600


def test_manage_py_migrate_creates_the_database_0600(tmp_path):
    """The real thing: `manage.py migrate` in a process of its own, under umask 022."""
    database = tmp_path / "db.sqlite3"
    env = {
        **{name: value for name, value in os.environ.items() if not name.startswith("DJANGO_")},
        "DJANGO_SETTINGS_MODULE": "oneapp_site.settings",
        "ENV_FILE": "",
        "SECRET_KEY": "test-secret-key-not-for-production",
        "TOKEN_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "DATABASE_URL": f"sqlite:///{database}",
    }
    subprocess.run(
        ["/bin/sh", "-c", 'umask 022 && exec "$0" manage.py migrate --noinput', sys.executable],
        cwd=REPO,
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )

    assert mode(database) == 0o600
    assert [oct(mode(path)) for path in tmp_path.iterdir()] == ["0o600"] * len(list(tmp_path.iterdir()))


def test_scripts_serve_migrates_under_umask_077():
    """scripts/serve's own line, so that the file is never readable by others even for a moment
    (the receiver can only narrow it once SQLite has made it)."""
    script = (REPO / "scripts" / "serve").read_text()
    assert "(umask 077 && .venv/bin/python manage.py migrate --noinput)" in script
