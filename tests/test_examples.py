from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import EXAMPLES

from certspec.cli import TOPOLOGIES
from certspec.commands.init import template

EXAMPLE_FILES = sorted(EXAMPLES.glob("*.yaml"))


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=[p.name for p in EXAMPLE_FILES])
def test_example_validates_and_names_the_schema(path: Path, cs: Callable[..., tuple[int, str, str]]) -> None:
    assert path.read_text().startswith("# yaml-language-server: $schema=../schemas/certspec.schema.json")
    code, out, err = cs("validate", "-f", str(path))
    assert (code, err) == (0, ""), err
    assert "valid" in out


def test_the_four_issue_examples_exist() -> None:
    names = {p.name for p in EXAMPLE_FILES}
    assert {"sitecore-xp0.yaml", "sitecore-xp1.yaml", "sitecore-xm1.yaml", "commerce.yaml"} <= names


@pytest.mark.parametrize("topology", TOPOLOGIES)
def test_init_writes_a_valid_manifest(topology: str, tmp_path: Path,
                                      cs: Callable[..., tuple[int, str, str]]) -> None:
    target = tmp_path / topology / "certspec.yaml"
    assert cs("init", "--topology", topology, str(target))[0] == 0
    assert (target.parent / "certspec.schema.json").is_file()
    code, _, err = cs("validate", "-f", str(target))
    assert (code, err) == (0, "")
    assert cs("init", "--topology", topology, str(target))[0] == 1  # never overwrites silently


@pytest.mark.parametrize("topology, example", [("xp0", "sitecore-xp0.yaml"), ("xm1", "sitecore-xm1.yaml"),
                                               ("xc", "commerce.yaml")])
def test_examples_that_mirror_a_template_stay_in_step(topology: str, example: str) -> None:
    body = lambda text: text.split("\n", 1)[1]  # noqa: E731 - all but the $schema line
    assert body((EXAMPLES / example).read_text()) == body(template(topology))


def test_xp0_mirrors_sif(cs: Callable[..., tuple[int, str, str]]) -> None:
    from certspec import manifest

    d = manifest.load(EXAMPLES / "sitecore-xp0.yaml")
    root = d.certs["local/authorities/root"]
    assert root.subject == "CN=DO_NOT_TRUST_SitecoreRootCert, O=DO_NOT_TRUST"
    assert str(root.key) == "rsa-2048" and root.validity.days == 3650
    assert set(root.key_usage) >= {"digital_signature", "key_cert_sign"}
