from django.contrib import admin
from django.urls import path

from mcp_endpoint.views import mcp_view

urlpatterns = [
    path("mcp", mcp_view, name="mcp"),
    path("admin/", admin.site.urls),
]
