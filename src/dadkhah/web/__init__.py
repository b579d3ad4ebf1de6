"""The web application (FastAPI): pages and their JSON twins over the same Python API as the CLI.

Only this package imports FastAPI, Starlette and Jinja2. ``create_app(settings)`` builds an app;
nothing is opened at import time.
"""

from dadkhah.web.app import create_app
from dadkhah.web.settings import WebSettings

__all__ = ["WebSettings", "create_app"]
