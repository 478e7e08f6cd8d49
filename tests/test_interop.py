"""Independent readers accept what certspec writes: OpenSSL, Java keytool, GnuTLS certtool,
and a real mutual-TLS handshake through nginx. They run in CI (.ci/run installs them)."""

from __future__ import annotations

import json
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import need
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, pkcs12

MANIFEST = """\
version: 1
defaults:
  issuer: issuing
authorities:
  root: {subject: "CN=DO_NOT_TRUST {env} Root, O=DO_NOT_TRUST", validity: 10y}
  issuing: {issuer: root, subject: "CN={env} Issuing CA", validity: 5y, path_length: 0}
roles:
  xconnect:
    certificates:
      server:
        dns_names: ["xconnect.{env}.test"]
        exports: [pfx, pfx-base64, thumbprint, cert-pem, key-pem, chain-pem]
      client:
        type: Custom
        subject: "CN=xconnect-client.{env}"
        key_usage: [digital_signature, key_encipherment, data_encipherment]
        extended_key_usage: [client_auth]
        friendly_name: "{env} xConnect client"
      modern:
        subject: modern.{env}.test
        key: {algorithm: ecdsa, curve: p256}
        pfx: {encryption: aes256-sha256}
environments:
  dev: {roles: [xconnect]}
  prod: {roles: [xconnect]}
"""


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from certspec.cli import main

    base = tmp_path_factory.mktemp("interop")
    (base / "m.yaml").write_text(MANIFEST)
    assert main(["-q", "apply", "-f", str(base / "m.yaml"), "-o", str(base / "out")]) == 0
    return base / "out"


def pw(out: Path, env: str, cert: str) -> str:
    return (out / env / "xconnect" / f"{cert}.pfx.password").read_text()


def run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("cert, expect_bags, expect_mac", [
    ("client", "pbeWithSHA1And3-KeyTripleDES-CBC", "MAC: sha1"),
    ("modern", "AES-256-CBC", "MAC: sha256"),
])
def test_openssl_pkcs12_info_shows_the_chosen_algorithms(out: Path, cert: str, expect_bags: str,
                                                        expect_mac: str) -> None:
    openssl = need("openssl")
    r = run(openssl, "pkcs12", "-info", "-noout", "-in", str(out / "dev/xconnect" / f"{cert}.pfx"),
            "-passin", f"pass:{pw(out, 'dev', cert)}")
    assert r.returncode == 0, r.stderr
    text = r.stdout + r.stderr
    assert expect_bags in text and expect_mac in text and "RC2" not in text


def test_openssl_verify_accepts_every_chain(out: Path, tmp_path: Path) -> None:
    openssl = need("openssl")
    for env in ("dev", "prod"):
        auth = out / env / "authorities"
        for cert in ("server", "client", "modern"):
            p12 = pkcs12.load_pkcs12((out / env / "xconnect" / f"{cert}.pfx").read_bytes(), pw(out, env, cert).encode())
            leaf = tmp_path / f"{env}-{cert}.pem"
            leaf.write_bytes(p12.cert.certificate.public_bytes(Encoding.PEM))  # type: ignore[union-attr]
            assert len(p12.additional_certs) == 2  # chain: full
            r = run(openssl, "verify", "-CAfile", str(auth / "root.crt"), "-untrusted", str(auth / "issuing.crt"), str(leaf))
            assert r.returncode == 0 and "OK" in r.stdout, r.stdout + r.stderr
    r = run(openssl, "verify", "-CAfile", str(out / "prod/authorities/root.crt"), "-untrusted",
            str(out / "prod/authorities/issuing.crt"), str(tmp_path / "dev-client.pem"))
    assert r.returncode != 0  # a dev CA never signs prod


def test_keytool_lists_one_private_key_entry_named_by_the_friendly_name(out: Path) -> None:
    keytool = need("keytool")
    r = run(keytool, "-list", "-v", "-storetype", "PKCS12", "-keystore", str(out / "dev/xconnect/client.pfx"),
            "-storepass", pw(out, "dev", "client"))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Your keystore contains 1 entry" in r.stdout
    assert "Entry type: PrivateKeyEntry" in r.stdout
    assert "alias name: dev xconnect client" in r.stdout.lower()


def test_certtool_reads_the_pfx(out: Path) -> None:
    certtool = need("certtool")
    for cert in ("client", "modern"):
        r = run(certtool, "--p12-info", "--inder", "--infile", str(out / "dev/xconnect" / f"{cert}.pfx"),
                "--password", pw(out, "dev", cert))
        assert r.returncode == 0, r.stdout + r.stderr
        assert "BEGIN CERTIFICATE" in r.stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def nginx(out: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    binary = need("nginx")
    base = tmp_path_factory.mktemp("nginx")
    port = _free_port()
    auth = out / "dev/authorities"
    (base / "clients.pem").write_bytes((auth / "root.crt").read_bytes() + (auth / "issuing.crt").read_bytes())
    (base / "nginx.conf").write_text(f"""
daemon off; master_process off; error_log {base}/error.log; pid {base}/nginx.pid;
events {{}}
http {{
  access_log off; client_body_temp_path {base}; proxy_temp_path {base}; fastcgi_temp_path {base};
  uwsgi_temp_path {base}; scgi_temp_path {base};
  server {{
    listen 127.0.0.1:{port} ssl;
    ssl_certificate {out}/dev/xconnect/server.chain.pem;
    ssl_certificate_key {out}/dev/xconnect/server.key;
    ssl_client_certificate {base}/clients.pem;
    ssl_verify_client on; ssl_verify_depth 3;
    location / {{ return 200 "$ssl_client_fingerprint"; }}
  }}
}}
""")
    proc = subprocess.Popen([binary, "-p", str(base), "-e", str(base / "error.log"), "-c", str(base / "nginx.conf")])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    yield port
    proc.terminate()
    proc.wait(timeout=10)


def _client(out: Path, env: str, tmp: Path) -> tuple[Path, Path]:
    """The client PFX as a client would use it: leaf + chain, and its key."""
    p12 = pkcs12.load_pkcs12((out / env / "xconnect/client.pfx").read_bytes(), pw(out, env, "client").encode())
    cert, key = tmp / f"{env}-client.pem", tmp / f"{env}-client.key"
    cert.write_bytes(p12.cert.certificate.public_bytes(Encoding.PEM)  # type: ignore[union-attr]
                     + b"".join(c.certificate.public_bytes(Encoding.PEM) for c in p12.additional_certs[:1]))
    key.write_bytes(p12.key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))  # type: ignore[union-attr]
    return cert, key


def _get(port: int, ca: Path, client: tuple[Path, Path]) -> str:
    ctx = ssl.create_default_context(cafile=str(ca))
    ctx.load_cert_chain(str(client[0]), str(client[1]))
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, \
            ctx.wrap_socket(raw, server_hostname="xconnect.dev.test") as tls:
        tls.sendall(b"GET / HTTP/1.1\r\nHost: xconnect.dev.test\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := tls.recv(4096):
            data += chunk
    return data.decode("latin-1")


def test_mutual_tls_accepts_the_client_and_sees_its_thumbprint(out: Path, nginx: int, tmp_path: Path) -> None:
    response = _get(nginx, out / "dev/authorities/root.crt", _client(out, "dev", tmp_path))
    assert response.startswith("HTTP/1.1 200"), response
    seen = response.split("\r\n\r\n", 1)[1].strip()
    assert seen == (out / "dev/xconnect/client.thumbprint").read_text().lower()


def test_mutual_tls_refuses_another_environments_client(out: Path, nginx: int, tmp_path: Path) -> None:
    response = _get(nginx, out / "dev/authorities/root.crt", _client(out, "prod", tmp_path))
    assert response.startswith("HTTP/1.1 400"), response


def test_inspect_reports_algorithms_and_verdicts(out: Path, tmp_path: Path) -> None:
    from certspec.cli import main

    pfx = out / "dev/xconnect/client.pfx"
    pwfile = out / "dev/xconnect/client.pfx.password"
    res = subprocess.run([sys.executable, "-m", "certspec", "inspect", str(pfx), "--password-file", str(pwfile), "--json"],
                         capture_output=True, text=True)
    info = json.loads(res.stdout)
    assert info["mac"] == "SHA-1" and info["compatibility"]["windows_server_2016"] == "yes"
    assert info["friendly_name"] == "dev xConnect client"
    assert info["certificate"]["thumbprint"] == (out / "dev/xconnect/client.thumbprint").read_text()
    assert info["private_key"]["matches_certificate"] is True
    assert len(info["chain"]) == 2
    assert pw(out, "dev", "client") not in res.stdout + res.stderr
    assert main(["inspect", str(out / "dev/xconnect/modern.pfx")]) == 0  # no password: algorithms only
