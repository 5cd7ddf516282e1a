"""The pages a member sees when an MCP client asks to act for them: sign-in, consent, and the refusal
for someone who is not a member. The OAuth protocol itself is the toolkit's (AuthorizationView)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import render
from oauth2_provider.views import AuthorizationView

from tenants.admin.sign_in import Throttled
from tenants.models import ClientConfig
from tenants.oauth.members import tenant_for_member
from tenants.oauth.resources import request_origin, tenant_of


class MemberSignInView(LoginView):
    """Sign-in for members (who need not be staff), with the admin's limits on failures."""

    template_name = "oauth/sign_in.html"
    form_class = Throttled


class MemberAuthorizationView(AuthorizationView):
    """The toolkit's authorization endpoint, for one tenant's resource and that tenant's members only."""

    template_name = "oauth/consent.html"
    tenant: ClientConfig

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        # Before the sign-in: a request that names no tenant of ours fails whoever signs in, and its
        # page says why to someone who may have no account (a client sent here by a refused key).
        resources = (
            request.POST.get("resource", "").split()
            if request.method == "POST"
            else request.GET.getlist("resource")
        )
        if tenant_of(resources, request_origin(request)) is None:
            return render(request, "oauth/refused.html", {"reason": "resource"}, status=400)
        response: HttpResponseBase = super().dispatch(request, *args, **kwargs)
        return response

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        refusal = self._refusal(request, request.GET.getlist("resource"))
        if refusal is not None:
            return refusal
        response: HttpResponseBase = super().get(request, *args, **kwargs)
        redirect_uri = self.oauth2_data.get("redirect_uri")
        if response.status_code == 200 and redirect_uri:
            _let_form_reach(response, redirect_uri)
        return response

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        refusal = self._refusal(request, request.POST.get("resource", "").split())
        if refusal is not None:
            return refusal
        response: HttpResponseBase = super().post(request, *args, **kwargs)
        return response

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context: dict[str, Any] = super().get_context_data(tenant=self.tenant, **kwargs)
        return context

    def _refusal(self, request: HttpRequest, resources: list[str]) -> HttpResponse | None:
        """A page instead of a grant: when the request names no tenant of ours, or the user is no member."""
        client_id = tenant_of(resources, request_origin(request))
        if client_id is None:
            return render(request, "oauth/refused.html", {"reason": "resource"}, status=400)
        tenant = tenant_for_member(request.user, client_id)
        if tenant is None:
            return render(request, "oauth/refused.html", {"reason": "member"}, status=403)
        self.tenant = tenant
        return None


def _let_form_reach(response: HttpResponseBase, redirect_uri: str) -> None:
    """Allow the consent form's answer to redirect to the client: CSP's form-action covers redirects."""
    directives = [part.strip() for part in settings.CONTENT_SECURITY_POLICY.split(";") if part.strip()]
    if not directives:  # no policy is sent at all
        return
    target = urlsplit(redirect_uri)
    origin = f"{target.scheme}://{target.netloc}" if target.netloc else f"{target.scheme}:"
    response["Content-Security-Policy"] = "; ".join(
        f"{directive} {origin}" if directive.split()[0] == "form-action" else directive
        for directive in directives
    )
