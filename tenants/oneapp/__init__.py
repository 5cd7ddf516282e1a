"""The OneApp API, as a tenant connects to it: the tool catalog, its argument models, and the HTTP client."""
