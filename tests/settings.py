"""Settings for the test suite: the real settings, with test secrets and no `.env` file."""

import os

from cryptography.fernet import Fernet

os.environ["ENV_FILE"] = ""
os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production")
os.environ.setdefault("TOKEN_ENCRYPTION_KEYS", Fernet.generate_key().decode())

from oneapp_site.settings import *  # noqa: F403
