"""Channels: email in (SMTP server, IMAP), email out (SMTP), webhooks. Thin I/O shells."""
