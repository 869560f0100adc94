"""SOP documents: model, time phrases, parser, linter, score, renderer, importers, diff.

Owns the SOP file format (YAML front matter for what runs, Markdown sections for
what people read) and every rule about a document on its own. Pure: it must not
import `sopdesk.store`, `sopdesk.web`, SQLAlchemy or read the clock.
"""
