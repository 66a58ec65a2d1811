"""The admin API under `/api/admin/`, one module per resource.

Every endpoint authorises through `gateway.admin_auth` (platform admins any tenant, tenant
admins their own, users nothing), reads and answers through its documented `Operation`, and
appends every change to the audit log.
"""

from __future__ import annotations

from gateway.routes.admin import (
    agents,
    approvals,
    audit,
    erp_tools,
    knowledge,
    llm,
    permissions,
    pins,
    policy_check,
    routing,
    search_provider,
    servers,
    suggestions,
    tenants,
    usage,
    webhooks,
)

_MODULES = [
    tenants,
    servers,
    agents,
    suggestions,
    routing,
    permissions,
    policy_check,
    llm,
    knowledge,
    erp_tools,
    search_provider,
    usage,
    audit,
    pins,
    approvals,
    webhooks,
]

operations = [operation for module in _MODULES for operation in module.operations]
