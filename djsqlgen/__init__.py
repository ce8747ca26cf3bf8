"""djsqlgen: expand-and-contract migrations for live DataJoint pipelines, generated as plain SQL."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("djsqlgen")  # pyproject.toml's, as installed (wheel or editable)
except PackageNotFoundError:  # a source tree imported without being installed
    __version__ = "0+unknown"
