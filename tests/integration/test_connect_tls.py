"""TLS as configured: no TLS context built for a server on the loopback unless DataJoint's use_tls asks for one
(building it read the system's certificates: 17-48 ms of every command's start-up, issue 25)."""

from __future__ import annotations

import subprocess
from dataclasses import replace

import pytest

from djsqlgen.errors import ConnectionFailed
from djsqlgen.run.db import connect, on_loopback


@pytest.mark.parametrize("use_tls", [None, True, False])
def test_tls_context_on_the_loopback_only_when_asked(server_settings, use_tls):
    # elsewhere (DJSQLGEN_TEST_DSN naming another machine) unset means as PyMySQL does it: a context built
    built = use_tls is True or (use_tls is None and not on_loopback(server_settings.host))
    with connect(replace(server_settings, use_tls=use_tls)) as db:
        assert db.query("SELECT 1 AS one") == [{"one": 1}]
        # PyMySQL's own flag: a context built, TLS used when the server offers it (refused only if use_tls false)
        assert db._connection.ssl is built


def test_a_loopback_server_that_requires_tls_is_still_reached(tmp_path):
    """TLS is left out on the loopback only for speed: a server with require_secure_transport (which refuses a TCP
    connection without TLS, even from this machine: 3159, or 1045 before MariaDB 11.4) is connected to with TLS."""
    from support.servers import MariaDBServer, start_or_fail

    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    server = start_or_fail(lambda: MariaDBServer("tls", log_bin=False, extra={
        "ssl_cert": str(cert), "ssl_key": str(key), "require_secure_transport": "ON"}))
    try:
        with connect(replace(server.settings, use_tls=None)) as db:
            assert db.query("SELECT @@require_secure_transport AS r")[0]["r"] == 1
            assert db.query("SHOW SESSION STATUS LIKE 'Ssl_cipher'")[0]["Value"], "not over TLS"
        with pytest.raises(ConnectionFailed):  # told not to use TLS, it does not
            connect(replace(server.settings, use_tls=False))
    finally:
        server.close()
