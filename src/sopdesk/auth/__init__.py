"""Owns identity and permissions: passwords, API tokens, CSRF, sign-in rate limits, and
the permission model (which role and which token scope may do which action).

Pure: nothing here touches a database, a socket or the clock (callers pass `now`); the
only outside state is the operating system's random source for new secrets. The rows
(users, tokens, sessions, attempts) are written by `sopdesk.actions.users` and
`sopdesk.actions.signin`. Must not import `sopdesk.store`, `sopdesk.actions`,
`sopdesk.web` or `sopdesk.cli`.
"""
