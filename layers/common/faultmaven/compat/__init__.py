"""The surface FaultMaven's own clients (the copilot browser extension and the dashboard)
speak, mounted under `/compat/faultmaven`: adapters that translate their request and reply
shapes onto our services. No SQL and no rules of its own live here; the native `/api/v1`
is unchanged."""

PREFIX = "/compat/faultmaven"
