"""Tenants and their access keys in Django admin.

forms.py holds the forms, keys.py the access key admin and inline, operations.py the actions on
running tenants (and their buttons), tenants.py the tenant admin that brings them together.
sign_in.py limits failed sign-ins to the admin site (and to members' sign-in), members.py
manages who may sign in for a tenant through OAuth. audit.py is the audit log and the usage
dashboard, whose charts charts.py draws.
"""

from django.contrib import admin

from tenants.admin.audit import ToolCallAdmin
from tenants.admin.forms import TOKEN_FIELD, AccessKeyForm, ClientConfigForm
from tenants.admin.keys import KEY_CREATED_TEMPLATE, KEYS_PREFIX, AccessKeyAdmin, IssuedKey
from tenants.admin.members import MembershipAdmin, MembershipInline
from tenants.admin.sign_in import ThrottledAdminAuthenticationForm
from tenants.admin.tenants import ClientConfigAdmin

admin.site.login_form = ThrottledAdminAuthenticationForm
admin.site.index_template = "admin/tenants/index.html"  # Django's, with a link to the usage dashboard

__all__ = [
    "KEYS_PREFIX",
    "KEY_CREATED_TEMPLATE",
    "TOKEN_FIELD",
    "AccessKeyAdmin",
    "AccessKeyForm",
    "ClientConfigAdmin",
    "ClientConfigForm",
    "IssuedKey",
    "MembershipAdmin",
    "MembershipInline",
    "ToolCallAdmin",
]
