"""OAuth 2.1 for MCP clients that connect with a tenant's URL alone: the authorization server is
django-oauth-toolkit; what is ours is who may sign in (a tenant's members), for which resource, and the
pages they see."""
