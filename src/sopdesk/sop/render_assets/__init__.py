"""Package data for `sopdesk.sop.render`: the page template and its stylesheet.

No code lives here; `render.py` reads `page.html.j2` and `sop.css` with importlib.resources.
"""
