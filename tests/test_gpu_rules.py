"""Every rule that declares `resources: gpu=1` goes to the GPU partition in
profiles/slurm-gpu and gets the CUDA conda environment when `conda_cuda` is on; the conda
env files cite README sections that exist."""

import re

import yaml

from workflow_helpers import REPO


def gpu_rules():
    """{rule: its conda directive} for the rules of rules/*.smk declaring gpu=1 (read from
    the rule files, so rules only reached by other configs, e.g. benchmark, count too)."""
    found = {}
    for path in sorted((REPO / "rules").glob("*.smk")):
        for block in re.split(r"(?m)^(?=rule )", path.read_text())[1:]:
            name = re.match(r"rule (\w+):", block)[1]
            if re.search(r"(?m)^\s+gpu=1,", block):
                conda = re.search(r"(?m)^    conda:\n\s+(.+)$", block)
                found[name] = conda[1].strip() if conda else None
    return found


def test_every_gpu_rule_goes_to_the_gpu_partition_with_the_cuda_env():
    rules = gpu_rules()
    assert {"attribute", "filter_influence", "benchmark"} <= set(rules)
    profile = yaml.safe_load((REPO / "profiles/slurm-gpu/config.yaml").read_text())
    for rule, conda in rules.items():
        resources = profile["set-resources"].get(rule)
        assert resources, f"GPU rule {rule} is not sent to the GPU partition"
        assert resources["gpu"] == 1 and resources["slurm_partition"] == "'EDIT_gpu_partition'"
        assert profile["set-threads"][rule] == resources["cpus_per_gpu"]
        assert conda == "gpu_env()", f"{rule} does not take the GPU conda env"
    assert "conda_cuda=True" in profile["config"]
    common = (REPO / "rules/common.smk").read_text()
    assert '"motifscope-cuda" if config["conda_cuda"] else "motifscope"' in common


def test_env_files_cite_existing_readme_sections():
    headings = {m.strip() for m in re.findall(r"(?m)^#+ (.+)$", (REPO / "README.md").read_text())}
    for env in sorted((REPO / "envs").glob("*.yaml")):
        text = env.read_text()
        yaml.safe_load(text)
        cited = re.findall(r'README, "([^"]+)"', text.replace("\n# ", " "))
        assert cited, f"{env.name} cites no README section"
        for section in cited:
            assert section in headings, f"{env.name} cites a missing README section {section!r}"
