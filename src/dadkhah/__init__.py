"""Dadkhah: a verified registry of victims, an honest estimate of the toll, a verifiable case file.

The Python API is the core; the CLI (:mod:`dadkhah.cli`) and later the web app only parse, call it
and render.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("dadkhah")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
