from django.contrib import admin
from django.contrib.auth.views import LogoutView
from django.urls import include, path
from oauth2_provider import views as oauth

from mcp_endpoint.health import healthz, readyz
from mcp_endpoint.metrics import metrics_view
from mcp_endpoint.views import mcp_view
from tenants.oauth.metadata import TenantResourceMetadataView
from tenants.oauth.views import MemberAuthorizationView, MemberSignInView

# The toolkit's authorization server, under the namespace its views reverse: our authorization page,
# its token, revocation and registration endpoints, and its RFC 8414 metadata at the well-known path.
oauth_patterns = [
    path(
        ".well-known/oauth-authorization-server",
        oauth.OAuthServerMetadataView.as_view(),
        name="oauth-server-metadata",
    ),
    path("oauth/authorize/", MemberAuthorizationView.as_view(), name="authorize"),
    path("oauth/token/", oauth.TokenView.as_view(), name="token"),
    path("oauth/revoke/", oauth.RevokeTokenView.as_view(), name="revoke-token"),
    path("oauth/register/", oauth.DynamicClientRegistrationView.as_view(), name="dcr-register"),
    path(
        "oauth/register/<str:client_id>/",
        oauth.DynamicClientRegistrationManagementView.as_view(),
        name="dcr-register-management",
    ),
]

urlpatterns = [
    path("mcp", mcp_view, name="mcp"),
    path("mcp/<str:client_id>", mcp_view, name="mcp-tenant"),  # McpRequest reads the id from the path
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("metrics", metrics_view, name="metrics"),
    path("admin/", admin.site.urls),
    path("", include((oauth_patterns, "oauth2_provider"))),
    path(
        ".well-known/oauth-protected-resource/mcp/<str:client_id>",
        TenantResourceMetadataView.as_view(),
        name="oauth-resource-metadata",
    ),
    path("oauth/sign-in/", MemberSignInView.as_view(), name="member-sign-in"),
    path("oauth/sign-out/", LogoutView.as_view(), name="member-sign-out"),
]
