"""Settings for oneapp-mcp, read from the environment in this one place (12-factor).

Every value comes from an environment variable or from an optional `.env` file beside
`manage.py`. Secrets may also be given as `<NAME>_FILE` pointing at a file.
"""

from pathlib import Path

import django_stubs_ext
import environ

# Gives Django's generic classes a __class_getitem__ (and nothing else), so that the apps can write
# the type parameters mypy checks, such as admin.ModelAdmin[ClientConfig], in their class bases.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.FileAwareEnv()
# ENV_FILE="" disables the file (the test settings do, to stay hermetic).
ENV_FILE = env.str("ENV_FILE", default=str(BASE_DIR / ".env"))
if ENV_FILE and Path(ENV_FILE).is_file():
    environ.Env.read_env(ENV_FILE)

DEBUG = env.bool("DEBUG", default=False)

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY and DEBUG:
    SECRET_KEY = "insecure-development-only-key"  # noqa: S105 - only ever used with DEBUG on
# Left empty otherwise: the system check oneapp_site.E001 says what to set.

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# Behind a proxy that terminates TLS (both opt-in, as they are only true behind such a proxy).
if env.bool("TRUST_X_FORWARDED_PROTO", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = env.int("HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("HSTS_INCLUDE_SUBDOMAINS", default=False)

# Admin sign-in (tenants/admin/sign_in.py): after this many failures for one user name, or from one
# client address, further attempts are refused, the right password included, until the window that
# began with the first of them has passed. Counted in the cache (CACHE_URL): per worker unless shared.
ADMIN_SIGN_IN_FAILURES_PER_USER: int = env.int("ADMIN_SIGN_IN_FAILURES_PER_USER", default=5)
ADMIN_SIGN_IN_FAILURES_PER_ADDRESS: int = env.int("ADMIN_SIGN_IN_FAILURES_PER_ADDRESS", default=20)
ADMIN_SIGN_IN_WINDOW_SECONDS: int = env.int("ADMIN_SIGN_IN_WINDOW_SECONDS", default=900)
# Sent with every page Django serves, the admin's (oneapp_site/csp.py); empty sends none.
CONTENT_SECURITY_POLICY: str = env.str(
    "CONTENT_SECURITY_POLICY",
    default="default-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'",
)

# The project's own settings below are annotated: django-environ's values are untyped to mypy.
# Comma-separated Fernet keys: the first encrypts, all decrypt. Checked by tenants.E001/E002.
TOKEN_ENCRYPTION_KEYS: list[str] = env.list("TOKEN_ENCRYPTION_KEYS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "oauth2_provider",
    "corsheaders",
    "tenants",
    "mcp_endpoint",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "oneapp_site.csp.content_security_policy",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",  # only for CORS_URLS_REGEX: the OAuth endpoints
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "oneapp_site.urls"
ASGI_APPLICATION = "oneapp_site.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several workers share one SQLite file: take the write lock up front and wait for it,
    # instead of failing with "database is locked" on a lock upgrade.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )

# One Redis shared by every worker and instance: the /mcp limits are counted there (mcp_endpoint/limiter.py)
# and the cache defaults to it. Without it, each worker counts for itself, in memory.
REDIS_URL: str = env.str("REDIS_URL", default="")
CACHES = {"default": env.cache("CACHE_URL", default=REDIS_URL or "locmemcache://")}
if not REDIS_URL and CACHES["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache":
    # A Redis CACHE_URL alone shares the limits too: on its first server, where the cache writes.
    _location = CACHES["default"]["LOCATION"]
    REDIS_URL = str(_location[0] if isinstance(_location, list) else _location)
# How long one limit check may wait for Redis before the request is served uncounted (fail open).
REDIS_TIMEOUT_SECONDS: float = env.float("REDIS_TIMEOUT_SECONDS", default=0.5)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

STATIC_URL = "static/"
STATIC_ROOT: Path | None = BASE_DIR / "staticfiles"  # None in the test settings
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Serve straight from the apps' static folders when nothing was collected (tests, first run).
WHITENOISE_USE_FINDERS = env.bool(
    "WHITENOISE_USE_FINDERS", default=STATIC_ROOT is None or not STATIC_ROOT.is_dir()
)

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        "tenants": {"level": LOG_LEVEL},
        "mcp_endpoint": {"level": LOG_LEVEL},
        # Their DEBUG records carry authorization codes and redirect URLs with codes in them: never
        # below INFO, whatever else is turned up.
        "oauthlib": {"level": "INFO"},
        "oauth2_provider": {"level": "INFO"},
    },
}

# The /mcp endpoint
MCP_SERVER_CACHE_TTL_SECONDS: float = env.float("MCP_SERVER_CACHE_TTL_SECONDS", default=300.0)
MCP_SERVER_CACHE_MAX_ENTRIES: int = env.int("MCP_SERVER_CACHE_MAX_ENTRIES", default=1000)
# How long a worker remembers that a client id has no servable tenant (unknown, disabled, or its
# token cannot be decrypted), so that a flood of such ids costs no database query each. A change to
# that tenant ends it at once, in every worker (the change feed).
MCP_ABSENT_TENANT_SECONDS: float = env.float("MCP_ABSENT_TENANT_SECONDS", default=30.0)
# Browser origins allowed to call /mcp (with CORS); any other Origin gets 403 (DNS-rebinding
# protection, MCP spec). Stripped: "a, b" must not list " b", which no browser ever sends.
MCP_ALLOWED_ORIGINS: list[str] = [
    origin.strip() for origin in env.list("MCP_ALLOWED_ORIGINS", default=[]) if origin.strip()
]
# Clients must send a tenant's access key as `Authorization: Bearer <key>` (mcp_endpoint.W001 when off).
MCP_REQUIRE_ACCESS_KEY: bool = env.bool("MCP_REQUIRE_ACCESS_KEY", default=True)
# Failed access keys allowed per minute from one client address (then 429 before any key check),
# and per tenant (then 429 for the addresses that have failed at all). Behind a load balancer, run
# uvicorn with --proxy-headers and --forwarded-allow-ips so that the address is the client's.
MCP_FAILED_KEYS_PER_ADDRESS: int = env.int("MCP_FAILED_KEYS_PER_ADDRESS", default=20)
MCP_FAILED_KEYS_PER_TENANT: int = env.int("MCP_FAILED_KEYS_PER_TENANT", default=200)
# A tool result longer than this (in characters of JSON; about 20,000 tokens) is cut at an item
# boundary of its list, with a note saying what was left out and how to ask for less.
MCP_RESPONSE_BUDGET_CHARS: int = env.int("MCP_RESPONSE_BUDGET_CHARS", default=80_000)
# Requests larger than this get 413 before they are parsed.
MCP_MAX_REQUEST_BYTES: int = env.int("MCP_MAX_REQUEST_BYTES", default=1024 * 1024)
# /metrics answers requests from these networks, or bearing METRICS_TOKEN.
METRICS_TOKEN: str = env.str("METRICS_TOKEN", default="")
METRICS_ALLOWED_NETWORKS: list[str] = env.list(
    "METRICS_ALLOWED_NETWORKS", default=["127.0.0.1/32", "::1/128"]
)
# Each must be a network in CIDR notation (system check mcp_endpoint.E001).
# How often each worker looks for tenant changes made elsewhere (0 turns it off; tests only).
MCP_CHANGE_POLL_SECONDS: float = env.float("MCP_CHANGE_POLL_SECONDS", default=1.0)

# Traces (mcp_endpoint/tracing.py): exported over OTLP/HTTP when an endpoint is set, in the standard
# OpenTelemetry variables. The URL and headers are read here (so their *_FILE variants work too); the
# exporter reads the rest itself (_TIMEOUT, _COMPRESSION, OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES,
# OTEL_TRACES_SAMPLER, OTEL_BSP_*). Checked by mcp_endpoint.E002 (a URL) and E003 (the protocol).
# The traces URL: the signal's own endpoint as given, else the base endpoint with /v1/traces added.
OTEL_TRACES_ENDPOINT: str = env.str("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", default="")
if not OTEL_TRACES_ENDPOINT and env.str("OTEL_EXPORTER_OTLP_ENDPOINT", default=""):
    OTEL_TRACES_ENDPOINT = env.str("OTEL_EXPORTER_OTLP_ENDPOINT").removesuffix("/") + "/v1/traces"
OTEL_TRACES_PROTOCOL: str = env.str("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", default="") or env.str(
    "OTEL_EXPORTER_OTLP_PROTOCOL", default="http/protobuf"
)
# The collector's credentials, if it wants any: also from OTEL_EXPORTER_OTLP_HEADERS_FILE.
OTEL_TRACES_HEADERS: str = env.str("OTEL_EXPORTER_OTLP_TRACES_HEADERS", default="") or env.str(
    "OTEL_EXPORTER_OTLP_HEADERS", default=""
)
TRACING_ENABLED: bool = (
    bool(OTEL_TRACES_ENDPOINT)
    and not env.bool("OTEL_SDK_DISABLED", default=False)
    and env.str("OTEL_TRACES_EXPORTER", default="otlp").strip().lower() != "none"
)

# OAuth 2.1 for MCP clients that connect with a tenant's URL alone (tenants/oauth/, django-oauth-toolkit).
# The origin clients reach this service at, such as https://mcp.example.com: it names the protected
# resources (<origin>/mcp/<client_id>) and the authorization server. Behind a TLS proxy the address
# uvicorn sees is not it; empty takes it from each request's Host (development; check oneapp_site.W002).
PUBLIC_BASE_URL: str = env.str("PUBLIC_BASE_URL", default="").rstrip("/")
OAUTH_ACCESS_TOKEN_SECONDS: int = env.int("OAUTH_ACCESS_TOKEN_SECONDS", default=3600)
OAUTH_REFRESH_TOKEN_SECONDS: int = env.int("OAUTH_REFRESH_TOKEN_SECONDS", default=30 * 24 * 3600)
LOGIN_URL = "member-sign-in"  # members sign in here (staff use the admin's own page)
# Authorization codes are kept hashed (tenants.models.Grant); tokens by the toolkit's checksum only.
OAUTH2_PROVIDER_GRANT_MODEL = "tenants.Grant"
OAUTH2_PROVIDER_APPLICATION_MODEL = "oauth2_provider.Application"  # named, as migrations refer to it
# Browser-based MCP clients (MCP Inspector) discover, register and exchange codes from their own
# origin. These endpoints take no cookies (no credentials are allowed), so any origin may call them;
# the sign-in and consent pages are top-level navigations, which need no CORS.
CORS_URLS_REGEX = (
    r"^/(\.well-known/oauth-(authorization-server|protected-resource/.*)|oauth/(token|revoke|register)/.*)$"
)
CORS_ALLOW_ALL_ORIGINS = True
# The toolkit's deploy warning that http redirects are allowed: they are, to loopback hosts only (above).
SILENCED_SYSTEM_CHECKS = ["oauth2_provider.W008"]
OAUTH2_PROVIDER = {
    "SCOPES": {
        "read": "Read this tenant's OneApp data: branches, zones, checklists and visual campaigns.",
        "write": "Send photos to Visapp MoAI to be judged (the one tool that writes to OneApp).",
    },
    "DEFAULT_SCOPES": ["read"],
    "OAUTH2_VALIDATOR_CLASS": "tenants.oauth.validator.MemberValidator",
    "OIDC_ISS_ENDPOINT": PUBLIC_BASE_URL,
    "ACCESS_TOKEN_EXPIRE_SECONDS": OAUTH_ACCESS_TOKEN_SECONDS,
    "REFRESH_TOKEN_EXPIRE_SECONDS": OAUTH_REFRESH_TOKEN_SECONDS,
    "ROTATE_REFRESH_TOKEN": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    "PKCE_REQUIRED": True,
    # http only for native clients' loopback callbacks (RFC 8252, any port): the toolkit takes any
    # http host once http is allowed, so tenants.oauth.validator refuses the others.
    "ALLOWED_REDIRECT_URI_SCHEMES": ["http", "https"],
    "ALLOW_LOCALHOST_LOOPBACK": True,
    "REQUEST_APPROVAL_PROMPT": "force",
    "OAUTH2_RESPONSE_TYPES_SUPPORTED": ["code"],
    "OAUTH2_GRANT_TYPES_SUPPORTED": ["authorization_code", "refresh_token"],
    "OAUTH2_TOKEN_ENDPOINT_AUTH_METHODS_SUPPORTED": ["none", "client_secret_post", "client_secret_basic"],
    # RFC 9700: S256 only, no implicit or password grant, tokens hashed at rest, `iss` in the response.
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
    "COMPLIANT_BCP_RFC9700_REFRESH_TOKEN": True,
    "COMPLIANT_BCP_RFC9700_PKCE_REQUIRED": True,
    # Any spec-following MCP client registers itself: by its metadata URL (CIMD) or by RFC 7591.
    "DCR_ENABLED": True,
    "DCR_REGISTRATION_PERMISSION_CLASSES": ("oauth2_provider.dcr.AllowAllDCRPermission",),
    "CIMD_ENABLED": True,
}

# The audit log (tenants/audit.py; each value positive, system check tenants.E003): rows older than
# this many days go with `manage.py prune_audit_log`.
AUDIT_LOG_RETENTION_DAYS: int = env.int("AUDIT_LOG_RETENTION_DAYS", default=90)
# Each worker keeps at most this many records waiting to be written (more are dropped and counted),
# and writes them about this often (sooner once 500 are waiting).
AUDIT_LOG_BUFFER_RECORDS: int = env.int("AUDIT_LOG_BUFFER_RECORDS", default=10_000)
AUDIT_LOG_FLUSH_SECONDS: float = env.float("AUDIT_LOG_FLUSH_SECONDS", default=1.0)
