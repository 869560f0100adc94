"""FastAPI application: server-rendered pages now; the JSON API under /api/v1 later.

Owns HTTP: routing, rendering, error pages and security headers. Reads and writes
only through `sopdesk.actions`; must not hold business rules.
"""
