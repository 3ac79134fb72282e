"""Shared HTTP plumbing: problems (RFC 9457), pagination, the OpenAPI document, health and
metrics endpoints, base templates and static files. Features import from here; nothing here
imports a feature."""
