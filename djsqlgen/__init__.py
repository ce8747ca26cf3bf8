"""djsqlgen: expand-and-contract migrations for live DataJoint pipelines, generated as plain SQL."""


def __getattr__(name: str) -> str:
    # __version__ is read from the installed package's metadata when first asked for (PEP 562): importlib.metadata
    # costs about 50 ms to load, which every `djsqlgen backfill` start paid without needing the version.
    if name != "__version__":
        raise AttributeError(f"module 'djsqlgen' has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("djsqlgen")  # pyproject.toml's, as installed (wheel or editable)
    except PackageNotFoundError:  # a source tree imported without being installed
        found = "0+unknown"
    globals()["__version__"] = found
    return found
