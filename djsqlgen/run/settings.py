"""Connection settings, resolved the way DataJoint users expect: flags, then DJ_* variables, then config files."""

from __future__ import annotations

import getpass
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from djsqlgen.errors import DjsqlgenError

ENV_VARS = {"host": "DJ_HOST", "user": "DJ_USER", "password": "DJ_PASS", "port": "DJ_PORT"}
TLS_ENV_VAR = "DJ_USE_TLS"
LOCAL_014 = "dj_local_conf.json"  # DataJoint 0.14: read in the working directory only
PROJECT_2X = "datajoint.json"  # DataJoint 2.x: the working directory or the nearest parent (up to .git/.hg)
GLOBAL_014 = ".datajoint_config.json"  # DataJoint 0.14: in the home directory, when there is no local file
SECRETS_2X = ".secrets"  # DataJoint 2.x: database.user / database.password files beside datajoint.json
SYSTEM_SECRETS_2X = Path("/run/secrets/datajoint")


@dataclass(frozen=True)
class ConnectionSettings:
    """Where and as whom to connect; ``origin`` says where each setting came from (for the one line a command
    prints before it connects)."""

    host: str = "localhost"
    port: int = 3306
    user: str = ""
    password: str = ""
    origin: str = field(default="", compare=False, repr=False)
    # DataJoint's database.use_tls (DJ_USE_TLS): True asks for TLS, False refuses it, None (unset) leaves it to the
    # driver (run/db.py: TLS when a remote server offers it, none on the loopback)
    use_tls: bool | None = None

    def describe(self) -> str:
        """``user@host:port``, for messages (never the password)."""
        return f"{self.user}@{self.host}:{self.port}"

    def announce(self) -> str:
        """``connecting to user@host:port (from …)``: the line a command prints once before it connects."""
        return f"connecting to {self.describe()}" + (f" ({self.origin})" if self.origin else "")


def config_file(directory: Path, home: Path | None = None) -> Path | None:
    """The one DataJoint configuration file djsqlgen reads, as DataJoint users find theirs.

    DataJoint 0.14 reads ``dj_local_conf.json`` in the working directory, else ``~/.datajoint_config.json``;
    DataJoint 2.x reads ``datajoint.json`` in the working directory or its nearest parent (the search stops at a
    ``.git`` or ``.hg`` directory). Either version reads one file only. Here, nearest first: the working
    directory's ``dj_local_conf.json``, then ``datajoint.json`` here or in a parent, then the home directory's
    ``.datajoint_config.json``. ``DJ_IGNORE_CONFIG_FILE=true`` (2.x) reads none.
    """
    if os.environ.get("DJ_IGNORE_CONFIG_FILE", "").strip().lower() in ("1", "true", "yes", "on"):
        return None
    here = directory.resolve()
    if (here / LOCAL_014).is_file():
        return here / LOCAL_014
    for current in (here, *here.parents):
        if (current / PROJECT_2X).is_file():
            return current / PROJECT_2X
        if (current / ".git").exists() or (current / ".hg").exists():
            break
    home_file = (home or Path.home()) / GLOBAL_014
    return home_file if home_file.is_file() else None


def _from_config_file(path: Path | None) -> dict[str, object]:
    """The database.* settings of a DataJoint config file, and for a ``datajoint.json`` the user and password
    from its secrets directory where the file leaves them out (as 2.x does).

    DataJoint 0.14 writes flat dotted keys (``"database.host"``); 2.x nests them
    (``{"database": {"host": ...}}``). Both are accepted.
    """
    if path is None:
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DjsqlgenError(f"cannot read {path}: {exc}; fix or remove the file") from exc
    if not isinstance(data, dict):
        raise DjsqlgenError(f"cannot read {path}: not a JSON object; fix or remove the file")
    nested = data.get("database") if isinstance(data.get("database"), dict) else {}
    found: dict[str, object] = {}
    for key in (*ENV_VARS, "use_tls"):
        value = data.get(f"database.{key}", nested.get(key))
        if value not in (None, ""):
            found[key] = value
    if path.name == PROJECT_2X:
        for secrets in (path.parent / SECRETS_2X, SYSTEM_SECRETS_2X):
            if secrets.is_dir():
                for key in ("user", "password"):
                    secret = secrets / f"database.{key}"
                    if key not in found and secret.is_file():
                        found[key] = secret.read_text(encoding="utf-8").strip()
                break
    return found


def resolve_settings(
    host: str | None = None,
    port: int | None = None,
    user: str | None = None,
    password: str | None = None,
    directory: Path | None = None,
    home: Path | None = None,
) -> ConnectionSettings:
    """Resolve each setting independently: explicit value, else DJ_* variable, else the config file
    (:func:`config_file`), else localhost:3306 as the operating-system user, with no password.

    A host written ``name:port`` (DataJoint's own convention) gives the port too,
    unless a port was given separately.
    """
    if host and port is None and ":" in host and not host.startswith("["):
        host, _, host_port = host.partition(":")  # a port written into --host counts as given
        port = int(host_port) if host_port.isdigit() else None
    explicit = {"host": host, "port": port, "user": user, "password": password}
    path = config_file(directory or Path.cwd(), home)
    from_file = _from_config_file(path)
    chosen: dict[str, object] = {}
    origin: dict[str, str] = {}
    for key, env_var in ENV_VARS.items():
        # Given on the command line wins; an empty value counts only for the password (--password '').
        if explicit[key] is not None and (explicit[key] != "" or key == "password"):
            chosen[key], origin[key] = explicit[key], "the command line"
            continue
        for candidate, where in ((os.environ.get(env_var), env_var), (from_file.get(key), str(path))):
            if candidate not in (None, ""):
                chosen[key], origin[key] = candidate, where
                break
    host_value = str(chosen.get("host", "localhost"))
    if ":" in host_value and not host_value.startswith("["):
        host_value, _, host_port = host_value.partition(":")
        if "port" not in chosen:
            chosen["port"], origin["port"] = host_port, origin["host"]
    try:
        port_value = int(chosen.get("port", 3306))
    except ValueError as exc:
        raise DjsqlgenError(f"port {chosen.get('port')!r} is not a number; pass --port N or set DJ_PORT") from exc
    os_user = getpass.getuser()
    return ConnectionSettings(
        host=host_value,
        port=port_value,
        user=str(chosen.get("user") or os_user),
        password=str(chosen.get("password", "")),
        origin=_origin_text(origin, os_user),
        use_tls=_use_tls(os.environ.get(TLS_ENV_VAR), from_file.get("use_tls")),
    )


def _use_tls(from_env: str | None, from_file: object) -> bool | None:
    """DataJoint's use_tls as a yes/no/unset: DJ_USE_TLS first, then the config file's. A dict (DataJoint's own TLS
    options) asks for TLS."""
    for value in (from_env, from_file):
        if value is None or value == "":
            continue
        if isinstance(value, str):
            return value.strip().lower() in ("1", "true", "yes", "on")
        return bool(value)
    return None


def _origin_text(origin: dict[str, str], os_user: str) -> str:
    """``user, host from DJ_USER, DJ_HOST; port from /home/u/.datajoint_config.json; …``: each source once (the
    password's is left out)."""
    by_source: dict[str, list[str]] = {}
    for key in ("user", "host", "port"):
        if key in origin:
            by_source.setdefault(origin[key], []).append(key)
    parts = [f"{', '.join(keys)} from {source}" for source, keys in by_source.items()]
    if "host" not in origin:
        parts.append("no host given: localhost")
    if "user" not in origin:
        parts.append(f"no user given (--user, DJ_USER or a DataJoint config file): the operating-system user "
                     f"{os_user}")
    return "; ".join(parts)
