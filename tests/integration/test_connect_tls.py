"""TLS as configured: no TLS context built for a server on the loopback unless DataJoint's use_tls asks for one
(building it read the system's certificates: 17-48 ms of every command's start-up, issue 25)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from djsqlgen.run.db import connect, on_loopback


@pytest.mark.parametrize("use_tls, built", [(None, False), (True, True), (False, False)])
def test_tls_context_on_the_loopback_only_when_asked(server_settings, use_tls, built):
    if not on_loopback(server_settings.host):
        pytest.skip("the test server is not on this machine")
    with connect(replace(server_settings, use_tls=use_tls)) as db:
        assert db.query("SELECT 1 AS one") == [{"one": 1}]
        # PyMySQL's own flag: a context built, TLS used when the server offers it (refused only if use_tls false)
        assert db._connection.ssl is built
