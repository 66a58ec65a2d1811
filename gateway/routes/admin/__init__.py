"""The admin API under `/api/admin/`, one module per resource.

Every endpoint authorises through `gateway.admin_auth` (platform admins any tenant, tenant
admins their own, users nothing), reads and answers through its documented `Operation`, and
appends every change to the audit log.
"""

from __future__ import annotations

from gateway.routes.admin import audit, erp_tools, permissions, search_provider, servers, tenants, usage

_MODULES = [tenants, servers, permissions, erp_tools, search_provider, usage, audit]

routes = [route for module in _MODULES for route in module.routes]
operations = [operation for module in _MODULES for operation in module.operations]
