"""Every bad input the project handles, with the one-line message it must print.

One row per case: the bad input (built in a temporary folder), the stage or function that
meets it, and a fragment of the expected message. Add a row with each new check
(CONTRIBUTING.md, "Bad input"). Rows run the library function the stage calls, so the
table stays fast; `test_workflow_stops_before_any_job` checks that the workflow itself
refuses the config rows before a job starts.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import torch
import yaml
from torch import nn

from motifscope.errors import InputError
from workflow_helpers import REPO

SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"


@dataclass
class Case:
    id: str
    stage: str  # the stage or function that meets the input
    trigger: Callable[[Path], object]
    message: str  # a fragment of the expected one-line message


# --- helpers building bad inputs -----------------------------------------------------------


def _config(**extra):
    return {"targets": {"t": 0}, **extra}


def _check_keys(config):
    from motifscope.validation import check_config_keys

    return lambda tmp: check_config_keys(config, SCHEMA, source="my.yaml")


def _check_choices(**extra):
    from snakemake.utils import validate

    from motifscope.validation import check_config_choices

    def trigger(tmp):
        config = _config(**extra)
        validate(config, str(SCHEMA))
        return check_config_choices(config)

    return trigger


def _fasta(tmp: Path, text: str = ">chr1\n" + "ACGT" * 25 + "\n>chr2\n" + "GGCC" * 25 + "\n",
           name="genome.fa") -> Path:
    path = tmp / name
    path.write_text(text)
    return path


def _peaks(tmp: Path, lines: list[str]) -> Path:
    path = tmp / "peaks.narrowPeak"
    path.write_text("".join(line + "\n" for line in lines))
    return path


def _stale_fai(tmp):
    from motifscope.io import open_fasta

    fasta = _fasta(tmp)
    open_fasta(fasta)  # builds genome.fa.fai
    _fasta(tmp, ">chr1\n" + "ACGT" * 10 + "\n>chr2\n" + "GGCC" * 25 + "\n")  # contig shrank
    return open_fasta(fasta)


def _grown_fasta(tmp):
    from motifscope.io import open_fasta

    fasta = _fasta(tmp)
    open_fasta(fasta)
    with open(fasta, "a") as fh:
        fh.write(">chr3\n" + "ACGT" * 25 + "\n")
    return open_fasta(fasta)


def _truncated_fasta(tmp):
    from motifscope.io import open_fasta

    fasta = _fasta(tmp)
    open_fasta(fasta)
    data = fasta.read_bytes()
    fasta.write_bytes(data[:-30])  # cut inside chr2, the index still promises 100 bp
    return open_fasta(fasta)


def _peak_past_contig_end(tmp):
    from motifscope.io import extract_loci

    # chr2 is 100 bp (a truncated FASTA, say): the second peak runs past its end
    peaks = _peaks(tmp, ["chr1\t10\t60\tp1\t0\t.\t0\t0\t0\t20",
                         "chr2\t80\t140\tp2\t0\t.\t0\t0\t0\t10"])
    return extract_loci(peaks, _fasta(tmp), window=20)


def _bad_character(tmp):
    from motifscope.io import extract_loci

    fasta = _fasta(tmp, ">chr1\n" + "ACGT" * 10 + "AC*T" + "ACGT" * 14 + "\n")
    peaks = _peaks(tmp, ["chr1\t30\t60\tp1\t0\t.\t0\t0\t0\t10"])
    return extract_loci(peaks, fasta, window=20)


def _negative_summit(tmp):
    from motifscope.io import read_peaks

    return read_peaks(_peaks(tmp, ["chr1\t10\t60\tp1\t0\t.\t0\t0\t0\t20",
                                   "chr1\t70\t90\tp2\t0\t.\t0\t0\t0\t-5"]))


CASES = [
    # (4) config keys and the run name
    Case("config-typo-section", "rules/common.smk: check_config_keys",
         _check_keys(_config(atribution={"n_shuffles": 5})),
         "unknown config key atribution (at the top level); did you mean attribution?"),
    Case("config-typo-key", "rules/common.smk: check_config_keys",
         _check_keys(_config(attribution={"n_shufles": 5})),
         "unknown config key attribution.n_shufles (in section attribution); did you mean "
         "attribution.n_shuffles?"),
    Case("config-typo-stage", "rules/common.smk: check_config_keys",
         _check_keys(_config(stages={"attributions": False})),
         "did you mean stages.attribution?"),
    Case("config-key-wrong-level", "rules/common.smk: check_config_keys",
         _check_keys(_config(n_shuffles=5)),
         "did you mean attribution.n_shuffles? (the key belongs there)"),
    Case("config-typo-nested", "rules/common.smk: check_config_keys",
         _check_keys(_config(filters={"tomtom": {"tresh": 0.1}})),
         "did you mean filters.tomtom.thresh?"),
    Case("config-typo-list-item", "rules/common.smk: check_config_keys",
         _check_keys(_config(simulate={"motifs": [{"id": "M", "target": "t", "peak": 3}]})),
         "unknown config key simulate.motifs[0].peak"),
    Case("config-unknown-key", "rules/common.smk: check_config_keys",
         _check_keys(_config(colour="red")), "the keys allowed here are run, genome"),
    Case("run-dotdot", "rules/common.smk: check_run_name",
         _check_keys(_config(run="..")), "config key run: '..' is not a plain name"),
    Case("run-path", "rules/common.smk: check_run_name",
         _check_keys(_config(run="../elsewhere")), "may not contain '/'"),
    # (2) genome FASTA and its index
    Case("fai-stale-shorter-contig", "extract_loci: open_fasta", _stale_fai,
         "genome.fa.fai does not match"),
    Case("fai-fasta-grew", "extract_loci: open_fasta", _grown_fasta,
         "(the FASTA grew after it was indexed); delete"),
    Case("fasta-truncated-after-index", "extract_loci: open_fasta", _truncated_fasta,
         "truncated FASTA, or stale index); delete"),
    Case("peak-past-contig-end", "extract_loci: plan_loci", _peak_past_contig_end,
         "peaks.narrowPeak line 2: peak chr2:80-140 ends past the end of contig 'chr2'"),
    Case("fasta-bad-character", "extract_loci: write_onehot", _bad_character,
         "character '*' at chr1:42 (0-based) is not DNA"),
    # (5) misleading messages
    Case("summit-negative", "extract_loci: read_peaks", _negative_summit,
         "peaks.narrowPeak line 2: summit offset -5 (column 10) is negative"),
    # (1) models saved without their module structure
    Case("torchscript-deeplift", "rules/common.smk: check_config_choices",
         _check_choices(model={"path": "m.ts", "format": "torchscript"},
                        stages={"filters": False}),
         "a TorchScript archive (model.format: torchscript) does not keep"),
    Case("export-deeplift", "rules/common.smk: check_config_choices",
         _check_choices(model={"path": "m.pt2", "format": "export"}),
         "set attribution.method: ism"),
    Case("export-marginalize-deeplift", "rules/common.smk: check_config_choices",
         _check_choices(model={"path": "m.pt2", "format": "export"},
                        attribution={"method": "ism"}, marginalize={"func": "deep_lift_shap"}),
         "set marginalize.func: predict"),
    Case("torchscript-filters", "rules/common.smk: check_config_choices",
         _check_choices(model={"path": "m.ts", "format": "torchscript"},
                        attribution={"method": "ism"}),
         "the filters stage reads first-layer activations with forward hooks"),
    # --- rows of the other engineer (items 5, 6) ---
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_stops_with_one_clear_line(case, tmp_path):
    with pytest.raises(InputError) as caught:
        case.trigger(tmp_path)
    message = str(caught.value)
    assert case.message in message, f"{case.stage}: {message}"
    assert "\n" not in message


def test_shipped_configs_have_no_unknown_keys():
    from motifscope.validation import check_config_keys

    for path in [REPO / "config" / "config.yaml", REPO / "tests" / "config" / "config.yaml",
                 *sorted((REPO / "config" / "examples").glob("*.yaml"))]:
        check_config_keys(yaml.safe_load(path.read_text()), SCHEMA, source=str(path))


def test_good_fasta_index_passes_and_all_n_windows_are_found(tmp_path):
    from motifscope.io import extract_loci
    from motifscope.io.fasta import all_n_loci

    fasta = _fasta(tmp_path, ">chr1\n" + "ACGT" * 10 + "N" * 40 + "ACGT" * 10 + "\n")
    peaks = _peaks(tmp_path, ["chr1\t10\t30\tp1\t0\t.\t0\t0\t0\t10",
                              "chr1\t50\t70\tp2\t0\t.\t0\t0\t0\t10"])
    extract_loci(peaks, fasta, window=20)  # builds the index
    loci, X = extract_loci(peaks, fasta, window=20)  # and checks it
    assert all_n_loci(X).tolist() == [1] and len(loci) == 2


@pytest.mark.workflow
@pytest.mark.parametrize("override, message", [
    ("stages: {attributions: false}", "did you mean stages.attribution?"),
    ("run: ..", "config key run: '..' is not a plain name"),
])
def test_workflow_stops_before_any_job(tmp_path, override, message):
    from workflow_helpers import make_workdir, run_snakemake

    workdir = make_workdir(tmp_path, override)
    proc = run_snakemake(workdir, "-n", check=False)
    assert proc.returncode != 0 and message in proc.stdout + proc.stderr
