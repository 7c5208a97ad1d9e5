"""The config schema: defaults fill in, every key is documented, bad configs fail clearly."""

import re

import pytest
import yaml
from snakemake.utils import validate

from workflow_helpers import REPO, make_workdir, run_snakemake

SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"


def _keys(schema, prefix=""):
    for name, sub in schema.get("properties", {}).items():
        path = f"{prefix}{name}"
        yield path
        yield from _keys(sub, f"{path}.")
        items = sub.get("items", {})
        if isinstance(items, dict):
            yield from _keys(items, f"{path}[].")


def test_every_schema_key_is_documented():
    schema = yaml.safe_load(SCHEMA.read_text())
    doc = (REPO / "config" / "README.md").read_text()
    documented = set(re.findall(r"`([A-Za-z0-9_.\[\]]+)`", doc))
    missing = [k for k in _keys(schema) if k not in documented]
    assert not missing, f"config/README.md lacks: {missing}"


def test_config_readme_is_generated_from_the_current_schema():
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, str(REPO / "tools" / "config_docs.py"), "--check"])
    assert proc.returncode == 0, "config/README.md is stale: run python tools/config_docs.py"


@pytest.mark.parametrize("config_file", ["config/config.yaml", "tests/config/config.yaml",
                                         *sorted(p.relative_to(REPO).as_posix() for p in
                                                 (REPO / "config" / "examples").glob("*.yaml"))])
def test_shipped_configs_validate(config_file):
    config = yaml.safe_load((REPO / config_file).read_text())
    validate(config, str(SCHEMA))
    assert config["device"] in ("auto", "cpu") or config["device"].startswith("cuda")
    assert config["attribution"]["shard_size"] >= 1  # nested defaults were filled in


def test_defaults_fill_nested_sections():
    config = {"targets": {"t": 0}}
    validate(config, str(SCHEMA))
    assert config["window"] == 1000 and config["device"] == "auto"
    assert config["loci"]["off_chrom"] == "drop" and config["simulate"]["enabled"] is False


@pytest.mark.workflow
def test_bad_config_key_names_the_key(tmp_path):
    workdir = make_workdir(tmp_path, "window: -5")
    proc = run_snakemake(workdir, "-n", check=False)
    assert proc.returncode != 0
    assert "window" in proc.stdout + proc.stderr
