"""`djsqlgen backfill` starts quickly: nothing of the generator, nor the full plan model (pydantic), is imported on
the way to the first chunk (issue 25)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from djsqlgen.run.db import on_loopback

HEAVY = ("pydantic", "importlib.metadata", "jinja2", "sqlglot", "djsqlgen.plan.file", "djsqlgen.catalog.heading",
         "djsqlgen.engines.context", "djsqlgen.model.target", "cryptography")
PLAN = Path(__file__).resolve().parents[2] / "examples" / "lab_ephys" / "plan.yaml"


def test_the_backfill_command_imports_nothing_heavy_on_the_way_to_the_server():
    """The command itself, run up to its connection (to a port where nothing listens): the plan read and checked,
    the driver and throttle loaded, and none of the heavy modules."""
    code = ("import sys\n"
            "from djsqlgen.cli import main\n"
            "import djsqlgen.run.driver, djsqlgen.run.throttle, djsqlgen.run.chunked\n"
            "try:\n"
            f"    main(['--host', '127.0.0.1', '--port', '1', '--user', 'nobody', 'backfill', {str(PLAN)!r}])\n"
            "except SystemExit as stop:\n"
            "    assert stop.code == 2, stop.code  # the connection refused, after the plan was read\n"
            "assert 'djsqlgen.plan.job' in sys.modules\n"
            f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "", f"imported on the way to the first chunk: {done.stdout.strip()}"


def test_cryptography_is_loaded_when_an_rsa_password_exchange_needs_it():
    """PyMySQL loads without cryptography (run/db.py); MySQL's sha256_password / caching_sha2_password exchange over a
    connection without TLS still encrypts the password with the server's RSA key, cryptography loaded then. Checked
    by decrypting what PyMySQL's function returns (MariaDB has neither plugin, so no server can show it here)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    salt = b"0123456789abcdefghij"
    code = ("import sys\n"
            "import djsqlgen.run.db\n"
            "from pymysql import _auth\n"
            "assert 'cryptography' not in sys.modules, 'loaded with PyMySQL'\n"
            f"sys.stdout.write(_auth.sha2_rsa_encrypt(b'secret', {salt!r}, sys.stdin.buffer.read()).hex())\n"
            "assert 'cryptography' in sys.modules\n")
    done = subprocess.run([sys.executable, "-c", code], input=pem, capture_output=True, check=False)
    assert done.returncode == 0, done.stderr.decode()
    sent = key.decrypt(bytes.fromhex(done.stdout.decode()), padding.OAEP(
        mgf=padding.MGF1(algorithm=hashes.SHA1()), algorithm=hashes.SHA1(), label=None))
    assert sent == bytes(c ^ salt[i % len(salt)] for i, c in enumerate(b"secret\0"))


@pytest.mark.parametrize("host, loopback", [("localhost", True), ("LOCALHOST", True), ("127.0.0.1", True),
                                            ("127.3.2.1", True), ("::1", True), ("[::1]", True),
                                            ("10.0.0.5", False), ("db.example.org", False), ("127.example.org", False),
                                            ("::ffff:10.0.0.5", False)])
def test_loopback_hosts(host, loopback):
    """What counts as this machine, where no TLS context is built unless use_tls asks for one."""
    assert on_loopback(host) is loopback
