"""The site gunicorn serves for bench/http_intake.py: production settings plus one bench-only view.

Imported as `http_site` with bench/ on the Python path (gunicorn --pythonpath). Not named `http`, which
would hide the standard library's http package from everything on that path.
"""
