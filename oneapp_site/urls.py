from django.contrib import admin
from django.urls import path

from mcp_endpoint.health import healthz, readyz
from mcp_endpoint.metrics import metrics_view
from mcp_endpoint.views import mcp_view

urlpatterns = [
    path("mcp", mcp_view, name="mcp"),
    path("mcp/<str:client_id>", mcp_view, name="mcp-tenant"),  # McpRequest reads the id from the path
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("metrics", metrics_view, name="metrics"),
    path("admin/", admin.site.urls),
]
