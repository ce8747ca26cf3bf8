"""Connection settings, resolved the way DataJoint users expect: flags, then DJ_* variables, then config files."""

from __future__ import annotations

import getpass
import json
import os
from dataclasses import dataclass
from pathlib import Path

from djsqlgen.errors import DjsqlgenError

CONFIG_FILES = ("dj_local_conf.json", "datajoint.json")
ENV_VARS = {"host": "DJ_HOST", "user": "DJ_USER", "password": "DJ_PASS", "port": "DJ_PORT"}


@dataclass(frozen=True)
class ConnectionSettings:
    """Where and as whom to connect."""

    host: str = "localhost"
    port: int = 3306
    user: str = ""
    password: str = ""

    def describe(self) -> str:
        """``user@host:port``, for messages (never the password)."""
        return f"{self.user}@{self.host}:{self.port}"


def _from_config_file(directory: Path) -> dict[str, object]:
    """Read database.* settings from the first DataJoint config file found in ``directory``.

    DataJoint 0.14 writes flat dotted keys (``"database.host"``); 2.x nests them
    (``{"database": {"host": ...}}``). Both are accepted.
    """
    for name in CONFIG_FILES:
        path = directory / name
        if not path.is_file():
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise DjsqlgenError(f"cannot read {path}: {exc}; fix or remove the file") from exc
        nested = data.get("database") if isinstance(data.get("database"), dict) else {}
        found: dict[str, object] = {}
        for key in ENV_VARS:
            value = data.get(f"database.{key}", nested.get(key))
            if value not in (None, ""):
                found[key] = value
        return found
    return {}


def resolve_settings(
    host: str | None = None,
    port: int | None = None,
    user: str | None = None,
    password: str | None = None,
    directory: Path | None = None,
) -> ConnectionSettings:
    """Resolve each setting independently: explicit value, else DJ_* variable, else config file.

    A host written ``name:port`` (DataJoint's own convention) gives the port too,
    unless a port was given separately.
    """
    if host and port is None and ":" in host and not host.startswith("["):
        host, _, host_port = host.partition(":")  # a port written into --host counts as given
        port = int(host_port) if host_port.isdigit() else None
    explicit = {"host": host, "port": port, "user": user, "password": password}
    from_file = _from_config_file(directory or Path.cwd())
    chosen: dict[str, object] = {}
    for key, env_var in ENV_VARS.items():
        # Given on the command line wins; an empty value counts only for the password (--password '').
        if explicit[key] is not None and (explicit[key] != "" or key == "password"):
            chosen[key] = explicit[key]
            continue
        for candidate in (os.environ.get(env_var), from_file.get(key)):
            if candidate not in (None, ""):
                chosen[key] = candidate
                break
    host_value = str(chosen.get("host", "localhost"))
    if ":" in host_value and not host_value.startswith("["):
        host_value, _, host_port = host_value.partition(":")
        chosen.setdefault("port", host_port)
    try:
        port_value = int(chosen.get("port", 3306))
    except ValueError as exc:
        raise DjsqlgenError(f"port {chosen.get('port')!r} is not a number; pass --port N or set DJ_PORT") from exc
    return ConnectionSettings(
        host=host_value,
        port=port_value,
        user=str(chosen.get("user") or getpass.getuser()),
        password=str(chosen.get("password", "")),
    )
