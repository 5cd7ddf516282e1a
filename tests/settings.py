"""Settings for the test suite: the real settings, with test secrets and no `.env` file."""

import os

from cryptography.fernet import Fernet

os.environ["ENV_FILE"] = ""
os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production")
os.environ.setdefault("TOKEN_ENCRYPTION_KEYS", Fernet.generate_key().decode())

from oneapp_site.settings import *  # noqa: F403

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A file, not memory: the live-server tests read it from uvicorn's threads.
    # One file per test process, so that parallel runs in one checkout do not collide.
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / f".test-db-{os.getpid()}.sqlite3")}  # noqa: F405

# Admin static files straight from the apps, with nothing collected.
STATIC_ROOT = None
WHITENOISE_USE_FINDERS = True

# No background polling of tenant changes in the test process (the multi-worker test turns it on in
# its own uvicorn processes); tests call the feed directly.
MCP_CHANGE_POLL_SECONDS = 0

# The audit log's writer thread waits an hour between writes here: tests that look at the audit log
# write its buffer themselves (mcp_endpoint.audit_trail), so no row lands in another test's database.
AUDIT_LOG_FLUSH_SECONDS = 3600.0

# Staff users are created and logged in by many tests; PBKDF2's deliberate slowness buys nothing here.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
