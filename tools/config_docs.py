"""Regenerate config/README.md from workflow/schemas/config.schema.yaml.

The schema is the single source of every key, default and description; this script lays
them out as one table per section, each followed by an example. Run it after editing the
schema: `python tools/config_docs.py` (tests/test_config.py checks the result is current).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"
OUT = ROOT / "config" / "README.md"

INTRO = """# Configuration

One YAML file chooses the data, the model, its targets, the motif database and every
stage's settings. `config/config.yaml` is the embedded demo; `config/examples/` holds
templates for real data. Run another config with `snakemake --configfile my.yaml`.

Keys are validated against `workflow/schemas/config.schema.yaml` when the workflow starts;
missing keys take the defaults listed here, and a wrong value stops the run with a message
naming the key. Every section is closed: an unknown key (a typo such as `n_shufles`) stops
the run too, naming the nearest known key. This file is generated from the schema by `python tools/config_docs.py`.
"""

EXAMPLES = {
    "": """run: my_tf
genome: /data/hg38.fa
peaks: /data/my_tf.narrowPeak.gz
window: 2114
motif_db: "jaspar:2024:CORE:vertebrates"   # or /data/motifs.meme
device: auto
batch_size: 128
random_state: 0
targets: {counts: 0}""",
    "model": """model:
  path: /models/bpnet.torch
  format: state_dict
  class: bpnetlite.BPNet            # or path/to/model.py:MyNet
  kwargs: {n_filters: 64, n_layers: 8, n_control_tracks: 2}
  input_length: 2114
  output: 1                         # BPNet returns (profile, counts): interpret the counts head
  extra_inputs:
    - {name: control, shape: [2, 1000]}""",
    "stages": """stages: {marginalize: false}    # skip marginalization, run everything else""",
    "simulate": """simulate:
  enabled: true
  chromosomes: {chr1: 2000000, chr2: 2000000, chr3: 1500000}
  gc: 0.41
  motifs:
    - {id: MA0139.2, target: ctcf, peaks: 600, copies: [1, 2]}
    - {id: MA0080.7, target: spi1, peaks: 600, copies: [1, 2]}
  spread: 60
  peak_width: 300
  negatives: 3000
  cooccurrence: 0.15
  held_out: [chr3]""",
    "train": """train: {epochs: 15, batch_size: 64, learning_rate: 0.003, jitter: 40, n_filters: 64,
        filter_width: 19, max_seconds: null}""",
    "loci": """loci: {off_chrom: pad, center: auto}""",
    "predict": """predict: {batch_size: 256}""",
}


def _cell(text: str) -> str:
    """Collapse whitespace and escape characters Markdown tables would swallow."""
    return " ".join(text.split()).replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|")


def _default(node):
    if "default" not in node:
        return "required" if node.get("_required") else ""
    return "`" + json.dumps(node["default"]) + "`"


def _type(node):
    t = node.get("type", "")
    if isinstance(t, list):
        t = " or ".join(t)
    if "enum" in node:
        t = " / ".join(f"`{v}`" for v in node["enum"])
    return t


def _rows(node, prefix):
    for name, sub in node.get("properties", {}).items():
        path = f"{prefix}{name}"
        yield f"| `{path}` | {_type(sub)} | {_default(sub)} | {_cell(sub.get('description') or '')} |"
        if sub.get("type") != "object" or not sub.get("properties"):
            items = sub.get("items")
            if isinstance(items, dict) and items.get("properties"):
                yield from _rows(items, f"{path}[].")
        else:
            yield from _rows(sub, f"{path}.")


def render() -> str:
    schema = yaml.safe_load(SCHEMA.read_text())
    for key in schema.get("required", []):
        schema["properties"][key]["_required"] = True
    parts = [INTRO, "## Top-level keys\n", "| key | type | default | meaning |",
             "|---|---|---|---|"]
    sections = []
    for name, sub in schema["properties"].items():
        if sub.get("type") == "object" and sub.get("properties"):
            sections.append((name, sub))
        else:
            parts.append(f"| `{name}` | {_type(sub)} | {_default(sub)} | "
                         f"{_cell(sub.get('description') or '')} |")
    parts += ["", "Example:", "", "```yaml", EXAMPLES[""], "```", ""]
    for name, sub in sections:
        parts += [f"## `{name}`", ""]
        if sub.get("description"):
            parts += [_cell(sub["description"]), ""]
        parts += ["| key | type | default | meaning |", "|---|---|---|---|",
                  *_rows(sub, f"{name}."), ""]
        example = EXAMPLES.get(name) or yaml.safe_dump(
            {name: _example_values(sub)}, sort_keys=False, default_flow_style=False).strip()
        parts += ["Example:", "", "```yaml", example, "```", ""]
    return "\n".join(parts)


def _example_values(node):
    out = {}
    for key, sub in node.get("properties", {}).items():
        if sub.get("type") == "object" and sub.get("properties"):
            out[key] = _example_values(sub)
        elif "default" in sub:
            out[key] = sub["default"]
    return out


if __name__ == "__main__":
    text = render()
    if "--check" in sys.argv:
        sys.exit(0 if OUT.exists() and OUT.read_text() == text else 1)
    OUT.write_text(text)
    print(f"wrote {OUT}")
