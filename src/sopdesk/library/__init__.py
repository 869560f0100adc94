"""The built-in SOP library: ready SOP documents written from the seed material.

Each `*.md` file beside this module is one SOP; `templates()` lists them.
"""
