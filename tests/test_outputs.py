"""Pipeline outputs (contract §5) checked against the certificate files they come from."""

from __future__ import annotations

import base64
import json
import re
import shlex
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from conftest import EXAMPLES, need
from cryptography import x509
from cryptography.hazmat.primitives.serialization import load_pem_private_key, pkcs12
from test_reconcile import snapshot

from certspec.cli import parser

Run = Callable[..., tuple[int, str, str]]
MANIFEST = """\
version: 1
defaults: {key: {algorithm: ecdsa}, issuer: issuing}
authorities:
  root: {subject: "CN={env} Root"}
  issuing: {issuer: root, subject: "CN={env} Issuing", validity: 5y}
outputs:
  - {kind: arm-parameters, path: azuredeploy.parameters.certs.json, certificate: xconnect/client}
  - kind: dotenv
    path: certs.env
    values:
      SITECORE_ID_CERTIFICATE: identity/signing:pfx-base64
      SITECORE_ID_CERTIFICATE_PASSWORD: identity/signing:password
      XCONNECT_CLIENT_THUMBPRINT: xconnect/client:thumbprint
      XCONNECT_CLIENT_SHA256: xconnect/client:thumbprint-sha256
      XCONNECT_CLIENT_NOT_AFTER: xconnect/client:not-after
  - {kind: sitecore-connection-strings, path: ConnectionStrings.certs.config, certificate: xconnect/client}
  - {kind: kubernetes-tls-secret, path: k8s/cm-tls.yaml, certificate: cm/tls, namespace: sitecore}
  - {kind: traefik, path: traefik/certs_config.yaml, certificates: [cm/tls, xconnect/server], directory: /etc/traefik/certs}
  - {kind: java-truststore, path: truststore.p12, authorities: [root, issuing]}
roles:
  cm: {certificates: {tls: {dns_names: ["cm.{env}.test"]}}}
  identity: {certificates: {signing: {type: Custom, subject: "CN=id signing {env}"}}}
  xconnect:
    certificates:
      server: {dns_names: ["xconnect.{env}.test"]}
      client: {type: Custom, subject: "CN=xc client {env}", extended_key_usage: [client_auth]}
environments:
  dev: {roles: [cm, identity, xconnect]}
  prod:
    roles: [cm, identity, xconnect]
    outputs:
      - {kind: dotenv, path: prod-only.env, values: {CM_THUMBPRINT: "cm/tls:thumbprint"}}
"""


@pytest.fixture
def out(write: Callable[[str], Path], tmp_path: Path, cs: Run) -> Path:
    m = write(MANIFEST)
    code, _, err = cs("apply", "-f", str(m), "-o", str(tmp_path / "out"))
    assert code == 0, err
    return tmp_path / "out"


def secret_pw(out: Path, rel: str) -> bytes:
    return (out / "dev" / f"{rel}.pfx.password").read_bytes()


def test_arm_parameters_hold_the_pfx_and_its_password(out: Path) -> None:
    doc = json.loads((out / "dev/azuredeploy.parameters.certs.json").read_text())
    assert doc["$schema"].endswith("deploymentParameters.json#") and doc["contentVersion"] == "1.0.0.0"
    params = doc["parameters"]
    assert set(params) == {"authCertificateBlob", "authCertificatePassword"}
    assert base64.b64decode(params["authCertificateBlob"]["value"]) == (out / "dev/xconnect/client.pfx").read_bytes()
    assert params["authCertificatePassword"]["value"].encode() == secret_pw(out, "xconnect/client")
    assert stat.S_IMODE((out / "dev/azuredeploy.parameters.certs.json").stat().st_mode) == 0o600


def test_dotenv_values(out: Path) -> None:
    lines = dict(line.split("=", 1) for line in (out / "dev/certs.env").read_text().splitlines())
    assert base64.b64decode(lines["SITECORE_ID_CERTIFICATE"]) == (out / "dev/identity/signing.pfx").read_bytes()
    assert lines["SITECORE_ID_CERTIFICATE_PASSWORD"].encode() == secret_pw(out, "identity/signing")
    assert lines["XCONNECT_CLIENT_THUMBPRINT"] == (out / "dev/xconnect/client.thumbprint").read_text()
    bundle = json.loads((out / "dev/bundle.json").read_text())["certificates"]["dev/xconnect/client"]
    assert lines["XCONNECT_CLIENT_SHA256"] == bundle["thumbprint_sha256"]
    assert lines["XCONNECT_CLIENT_NOT_AFTER"] == bundle["not_after"]
    assert stat.S_IMODE((out / "dev/certs.env").stat().st_mode) == 0o600
    assert (out / "prod/prod-only.env").read_text().startswith("CM_THUMBPRINT=")
    assert not (out / "dev/prod-only.env").exists()


def test_sitecore_connection_strings_find_the_client_by_thumbprint(out: Path) -> None:
    import xml.etree.ElementTree as ET

    root = ET.fromstring((out / "dev/ConnectionStrings.certs.config").read_text())
    tp = (out / "dev/xconnect/client.thumbprint").read_text()
    adds = {a.get("name"): a.get("connectionString") for a in root.iter("add")}
    assert set(adds) == {"xconnect.collection.certificate", "xdb.referencedata.client.certificate",
                         "xdb.marketingautomation.reporting.client.certificate",
                         "xdb.marketingautomation.operations.client.certificate",
                         "sitecore.reporting.client.certificate"}
    for value in adds.values():
        assert value == f"StoreName=My;StoreLocation=LocalMachine;FindType=FindByThumbprint;FindValue={tp}"


def test_kubernetes_secret_key_matches_its_certificate(out: Path) -> None:
    doc = yaml.safe_load((out / "dev/k8s/cm-tls.yaml").read_text())
    assert doc["kind"] == "Secret" and doc["type"] == "kubernetes.io/tls"
    assert doc["metadata"] == {"name": "dev-cm-tls", "namespace": "sitecore"}
    chain = x509.load_pem_x509_certificates(base64.b64decode(doc["data"]["tls.crt"]))
    key = load_pem_private_key(base64.b64decode(doc["data"]["tls.key"]), None)
    assert key.public_key() == chain[0].public_key()
    p12 = pkcs12.load_pkcs12((out / "dev/cm/tls.pfx").read_bytes(), secret_pw(out, "cm/tls"))
    assert chain[0] == p12.cert.certificate  # type: ignore[union-attr]
    assert [c.subject.rfc4514_string() for c in chain] == ["CN=cm.dev.test", "CN=dev Issuing"]  # no root
    assert stat.S_IMODE((out / "dev/k8s/cm-tls.yaml").stat().st_mode) == 0o600


def test_traefik_config_lists_the_pem_files_it_writes(out: Path) -> None:
    doc = yaml.safe_load((out / "dev/traefik/certs_config.yaml").read_text())
    pairs = doc["tls"]["certificates"]
    assert pairs == [{"certFile": "/etc/traefik/certs/cm-tls.crt", "keyFile": "/etc/traefik/certs/cm-tls.key"},
                     {"certFile": "/etc/traefik/certs/xconnect-server.crt",
                      "keyFile": "/etc/traefik/certs/xconnect-server.key"}]
    for stem in ("cm-tls", "xconnect-server"):
        cert = x509.load_pem_x509_certificates((out / "dev/traefik" / f"{stem}.crt").read_bytes())[0]
        key = load_pem_private_key((out / "dev/traefik" / f"{stem}.key").read_bytes(), None)
        assert key.public_key() == cert.public_key()
        assert stat.S_IMODE((out / "dev/traefik" / f"{stem}.key").stat().st_mode) == 0o600


def test_java_truststore_lists_trusted_cert_entries(out: Path) -> None:
    keytool = need("keytool")
    pw = (out / "dev/truststore.p12.password").read_text()
    r = subprocess.run([keytool, "-list", "-storetype", "PKCS12", "-keystore", str(out / "dev/truststore.p12"),
                        "-storepass", pw], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.count("trustedCertEntry") == 2 and "Your keystore contains 2 entries" in r.stdout


def test_second_apply_rewrites_no_output(out: Path, cs: Run, write: Callable[[str], Path]) -> None:
    m = write(MANIFEST)
    before = snapshot(out)
    assert cs("apply", "-f", str(m), "-o", str(out))[0] == 0
    assert snapshot(out) == before


def test_outputs_follow_a_rotation_and_are_repaired(out: Path, cs: Run, write: Callable[[str], Path]) -> None:
    m = write(MANIFEST)
    (out / "dev/certs.env").unlink()
    assert cs("rotate", "-f", str(m), "-o", str(out), "dev/xconnect/client")[0] == 0
    tp = (out / "dev/xconnect/client.thumbprint").read_text()
    assert f"FindValue={tp}" in (out / "dev/ConnectionStrings.certs.config").read_text()
    assert f"XCONNECT_CLIENT_THUMBPRINT={tp}" in (out / "dev/certs.env").read_text()
    blob = json.loads((out / "dev/azuredeploy.parameters.certs.json").read_text())["parameters"]
    assert base64.b64decode(blob["authCertificateBlob"]["value"]) == (out / "dev/xconnect/client.pfx").read_bytes()


def test_removed_output_is_deleted(out: Path, cs: Run, write: Callable[[str], Path]) -> None:
    m = write(MANIFEST.replace("  - {kind: java-truststore, path: truststore.p12, authorities: [root, issuing]}\n", ""))
    assert cs("apply", "-f", str(m), "-o", str(out))[0] == 0
    assert not (out / "dev/truststore.p12").exists() and not (out / "dev/truststore.p12.password").exists()


@pytest.mark.parametrize("change, message", [
    ("certificate: xconnect/client}", "certificate: xconnect/nope}"),
    ("path: certs.env", "path: ../certs.env"),
    ("identity/signing:password", "identity/signing:passwrd"),
    ("kind: traefik", "kind: nginx"),
    ("path: k8s/cm-tls.yaml", "path: cm/secret.yaml"),
    ("authorities: [root, issuing]", "authorities: [rot]"),
])
def test_bad_outputs_are_positioned_errors(write: Callable[[str], Path], cs: Run, change: str, message: str) -> None:
    m = write(MANIFEST.replace(change, message, 1))
    code, _, err = cs("validate", "-f", str(m))
    assert code == 1 and re.search(r":\d+:\d+: \$\.(environments\.prod\.)?outputs\[\d+\]", err), err


@pytest.mark.parametrize("mode", ["github", "azure-devops"])
def test_emit_never_prints_a_secret_unmasked(out: Path, cs: Run, write: Callable[[str], Path], tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch, mode: str) -> None:
    m = write(MANIFEST)
    gh = tmp_path / "github_output"
    monkeypatch.setenv("GITHUB_OUTPUT", str(gh))
    code, stdout, err = cs("apply", "-f", str(m), "-o", str(out), "--emit", mode)
    assert code == 0, err
    secrets = [p.read_text() for p in out.rglob("*.pfx.password")]
    secrets += [base64.b64encode(p.read_bytes()).decode() for p in out.rglob("*.pfx")]
    masked_at: dict[str, int] = {}
    for n, line in enumerate(stdout.splitlines()):
        for s in secrets:
            if s not in line:
                continue
            if mode == "github":
                assert line == f"::add-mask::{s}"
                masked_at.setdefault(s, n)
            else:
                assert line.startswith("##vso[task.setvariable variable=") and ";issecret=true]" in line
    assert not any(s in err for s in secrets)
    if mode == "github":
        assert set(masked_at) == set(secrets)
        text = gh.read_text()
        assert "DEV_XCONNECT_CLIENT_THUMBPRINT<<" in text and secrets[0] in text
    else:
        assert "variable=DEV_XCONNECT_CLIENT_THUMBPRINT;isoutput=true]" in stdout


def test_emit_github_needs_github_output(out: Path, cs: Run, write: Callable[[str], Path],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_OUTPUT", raising=False)
    code, _, err = cs("apply", "-f", str(write(MANIFEST)), "-o", str(out), "--emit", "github")
    assert code == 1 and "GITHUB_OUTPUT is not set" in err


def _commands(node: object) -> list[str]:
    """Every certspec command line in a workflow's run/script/inlineScript blocks."""
    found: list[str] = []
    if isinstance(node, dict):
        for k, v in node.items():
            if k in ("run", "script", "inlineScript") and isinstance(v, str):
                for line in v.splitlines():
                    line = line.strip()
                    if line.startswith("certspec "):
                        found.append(re.split(r"\s(\|\||&&|;)\s", line)[0])
            else:
                found += _commands(v)
    elif isinstance(node, list):
        for v in node:
            found += _commands(v)
    return found


@pytest.mark.parametrize("name", ["github-actions.yml", "azure-pipelines.yml"])
def test_pipeline_examples_run_commands_that_exist(name: str) -> None:
    doc = yaml.safe_load((EXAMPLES / "pipelines" / name).read_text())
    commands = _commands(doc)
    verbs = [shlex.split(c)[1] for c in commands]
    assert {"plan", "apply", "validate", "status"} <= set(verbs)
    for command in commands:
        parser().parse_args(shlex.split(command)[1:])  # exits (code 1) on an unknown option
    plan = next(c for c in commands if " plan " in f" {c} ")
    apply = next(c for c in commands if " apply " in f" {c} ")
    assert "--detailed-exitcode" in plan and "--emit" in apply
    text = (EXAMPLES / "pipelines" / name).read_text()
    assert "Restore the output folder" in text and "Save the output folder" in text
    assert re.search(r"PullRequest|pull_request", text)


def _planned_outputs(cs: Run, m: Path, out: Path, *extra: str) -> dict[str, tuple[str, str]]:
    code, stdout, err = cs("plan", "-f", str(m), "-o", str(out), "--json", *extra)
    assert code == 0, err
    return {f"{o['env']}/{o['path']}": (o["action"], o["reason"]) for o in json.loads(stdout)["outputs"]}


def test_plan_names_every_output_apply_will_write_or_delete(write: Callable[[str], Path], tmp_path: Path,
                                                             cs: Run) -> None:
    m, out = write(MANIFEST), tmp_path / "out"
    first = _planned_outputs(cs, m, out)
    assert len(first) == 13 and set(first.values()) == {("write", "new")}
    code, stdout, _ = cs("apply", "-f", str(m), "-o", str(out))
    assert code == 0 and "outputs: 13 written, 0 deleted." in stdout
    assert _planned_outputs(cs, m, out) == {}
    assert cs("plan", "-f", str(m), "-o", str(out), "--detailed-exitcode")[0] == 0

    (out / "dev/certs.env").write_text("edited\n")
    assert _planned_outputs(cs, m, out) == {"dev/certs.env": ("write", "files-changed")}
    code, stdout, _ = cs("plan", "-f", str(m), "-o", str(out), "--detailed-exitcode")
    assert code == 2 and "> output    dev/certs.env" in stdout and "outputs: 1 to write, 0 to delete" in stdout
    assert cs("apply", "-f", str(m), "-o", str(out))[0] == 0

    # a reissued certificate: exactly the outputs made from it (and nothing in the other environment)
    assert _planned_outputs(cs, m, out, "--only", "dev/cm/tls") == {}  # nothing due: nothing to write
    assert cs("rotate", "-f", str(m), "-o", str(out), "dev/xconnect/client")[0] == 0
    assert _planned_outputs(cs, m, out) == {}
    m.write_text(MANIFEST.replace('subject: "CN=xc client {env}"', 'subject: "CN=xc client 2 {env}"'))
    assert _planned_outputs(cs, m, out, "--env", "dev") == {
        f"dev/{p}": ("write", "inputs-changed")
        for p in ("azuredeploy.parameters.certs.json", "certs.env", "ConnectionStrings.certs.config")}
    # an output taken out of the manifest: deleted
    m.write_text(MANIFEST.replace("      - {kind: dotenv, path: prod-only.env, values: {CM_THUMBPRINT: \"cm/tls:thumbprint\"}}\n",
                                  "      []\n"))
    assert _planned_outputs(cs, m, out, "--env", "prod") == {"prod/prod-only.env": ("delete", "removed")}
    code, stdout, _ = cs("apply", "-f", str(m), "-o", str(out), "--env", "prod")
    assert code == 0 and "- output    prod/prod-only.env" in stdout and not (out / "prod/prod-only.env").exists()
