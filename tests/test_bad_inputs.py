"""Every bad input the project handles, with the message it must print (issue 19).

One row per case: an id, a function that feeds the bad input to the stage or function that
must refuse it (it gets pytest's ``tmp_path``), and a fragment of the one-line message. Add
a row with each fix (CONTRIBUTING.md, "Bad inputs"). The cases that are not a refusal (all-N
windows are reported, gzip outputs are reproducible, allowed large deltas) follow the table.
"""

import gzip
import logging
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from motifscope.checks import check_finite, check_predictions_finite, sniff_model_file
from motifscope.errors import InputError
from motifscope.io import extract_loci, read_peaks
from motifscope.io.fasta import check_fai
from motifscope.marginalize import marginalize_motifs
from motifscope.models import load_model
from motifscope.utils import write_tsv_gz
from motifscope.validation import (check_attributable, check_config_choices,
                                   check_config_keys)

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"
sys.path.insert(0, str(REPO / "workflow" / "scripts"))

L = 50
SEQ = {"chr1": "ACGT" * 50, "chr2": "GGCCAATT" * 25}  # 200 bp each


def _net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv1d(4, 2, 5), nn.ReLU(), nn.Flatten(), nn.Linear(2 * (L - 4), 1))


def _genome(tmp_path, seqs=SEQ, width=60):
    path = tmp_path / "genome.fa"
    path.write_text("".join(f">{name}\n" + "".join(seq[i:i + width] + "\n"
                                                   for i in range(0, len(seq), width))
                            for name, seq in seqs.items()))
    return path


def _peaks(tmp_path, rows):
    path = tmp_path / "peaks.narrowPeak"
    path.write_text("".join("\t".join(map(str, (c, s, e, f"p{i}", 1, ".", 1, -1, -1, summit)))
                            + "\n" for i, (c, s, e, summit) in enumerate(rows)))
    return path


class _Nan(nn.Module):
    """Outputs NaN for every input."""

    def forward(self, x):
        return x.sum(dim=(1, 2))[:, None] * float("nan")


class _InfOnA(nn.Module):
    """Finite on an all-zero window, inf on a window that starts with A."""

    def forward(self, x):
        return 1.0 / (1.0 - x[:, 0, :1])


# --- the bad inputs ------------------------------------------------------------------------


def config_typo_top(tmp_path):
    check_config_keys({"atribution": {"method": "ism"}}, SCHEMA)


def config_typo_nested(tmp_path):
    check_config_keys({"attribution": {"n_shufles": 5}}, SCHEMA)


def config_typo_stage(tmp_path):
    check_config_keys({"stages": {"attributions": False}}, SCHEMA)


def config_key_in_wrong_section(tmp_path):
    check_config_keys({"attribution": {"n_backgrounds": 5}}, SCHEMA)


def run_name_dotdot(tmp_path):
    check_config_keys({"run": ".."}, SCHEMA)


def run_name_with_slash(tmp_path):
    check_config_keys({"run": "../elsewhere"}, SCHEMA)


def _choices(fmt, **overrides):
    config = {"model": {"format": fmt, "path": "m.pt"}, "stages": {"filters": False}}
    config.update(overrides)
    check_config_choices(config)


def deeplift_on_torchscript(tmp_path):
    _choices("torchscript")


def deeplift_on_export(tmp_path):
    _choices("export")


def marginalize_deeplift_on_export(tmp_path):
    _choices("export", attribution={"method": "ism"},
             marginalize={"func": "deep_lift_shap"})


def filters_on_torchscript(tmp_path):
    _choices("torchscript", attribution={"method": "ism"}, stages={"filters": True})


def deeplift_on_loaded_torchscript(tmp_path):
    check_attributable(torch.jit.script(_net()), path="m.pt")


def large_deltas_fail_the_merge(tmp_path):
    from merge_attributions import refuse_large_deltas

    refuse_large_deltas(["loci [0, 8): deep_lift_shap: convergence deltas up to 3"], False)


def stale_fai_truncated_fasta(tmp_path):
    genome = _genome(tmp_path)
    check_fai_after(genome, lambda: genome.write_bytes(genome.read_bytes()[:-70]))


def fai_of_another_fasta(tmp_path):
    genome = _genome(tmp_path)
    check_fai_after(genome, lambda: genome.write_text(">chr1\n" + "A" * 7 + "\n"
                                                      + genome.read_text()))


def check_fai_after(genome, change):
    from motifscope.io.loci import open_fasta

    open_fasta(genome)  # builds genome.fa.fai
    change()
    check_fai(genome)


def peak_past_contig_end(tmp_path):
    genome = _genome(tmp_path, {"chr1": SEQ["chr1"][:150], "chr2": SEQ["chr2"]})
    extract_loci(_peaks(tmp_path, [("chr2", 50, 100, 10), ("chr1", 120, 180, 5)]), genome,
                 window=L)


def bad_character_in_fasta(tmp_path):
    genome = _genome(tmp_path, {"chr1": SEQ["chr1"], "chr2": SEQ["chr2"][:77] + "*"
                                + SEQ["chr2"][78:]})
    extract_loci(_peaks(tmp_path, [("chr2", 50, 110, 30)]), genome, window=L)


def negative_summit(tmp_path):
    read_peaks(_peaks(tmp_path, [("chr1", 10, 90, 5), ("chr1", 100, 150, -7)]))


def nan_model_at_load(tmp_path):
    torch.jit.save(torch.jit.script(_Nan()), tmp_path / "nan.pt")
    load_model({"path": str(tmp_path / "nan.pt"), "format": "torchscript"}, input_length=L)


def inf_prediction_names_locus(tmp_path):
    loci = pd.DataFrame({"chrom": ["chr1"] * 3, "start": [0, 10, 20], "end": [50, 60, 70]})
    X = np.zeros((3, 4, L), np.float32)
    X[1:, 0, 0] = 1  # loci 1 and 2 start with A
    check_predictions_finite(_InfOnA(), X, "predict", loci=loci, batch_size=2)


def nan_in_marginalization(tmp_path):
    backgrounds = np.eye(4, dtype=np.float32)[np.zeros((3, L), int)].transpose(0, 2, 1)
    marginalize_motifs(_Nan(), backgrounds, {"m1": "ACGT"}, random_state=0)


def torchscript_given_as_state_dict(tmp_path):
    torch.jit.save(torch.jit.script(_net()), tmp_path / "m.pt")
    load_model({"path": str(tmp_path / "m.pt"), "format": "state_dict",
                "class": "torch.nn.Identity"}, input_length=L)


def state_dict_given_as_torchscript(tmp_path):
    torch.save(_net().state_dict(), tmp_path / "m.pt")
    load_model({"path": str(tmp_path / "m.pt"), "format": "torchscript"}, input_length=L)


def export_with_fixed_batch(tmp_path):
    program = torch.export.export(_net().eval(), (torch.zeros(8, 4, L),))
    torch.export.save(program, tmp_path / "m.pt2")
    load_model({"path": str(tmp_path / "m.pt2"), "format": "export"}, input_length=L)


def config_typo_list_item(tmp_path):
    check_config_keys({"simulate": {"motifs": [{"id": "M", "target": "t", "peak": 3}]}}, SCHEMA)


def config_unknown_key(tmp_path):
    check_config_keys({"colour": "red"}, SCHEMA)


def fasta_grew_after_indexing(tmp_path):
    genome = _genome(tmp_path)
    check_fai_after(genome, lambda: genome.write_text(genome.read_text() + ">chr3\nACGT\n"))


def deeplift_on_loaded_export(tmp_path):
    program = torch.export.export(_net().eval(), (torch.zeros(1, 4, L),))
    check_attributable(program.module(), path="m.pt2")


def nan_in_the_predict_stage(tmp_path):
    """The predict job itself (workflow/scripts/predict.py), on a model that is finite at
    load (all-N dummy input) and inf on the loci that start with A."""
    import h5py
    from predict import main

    torch.save(nn.Module().state_dict(), tmp_path / "m.pt")
    (tmp_path / "inf_on_a.py").write_text(
        "from torch import nn\n\n\nclass InfOnA(nn.Module):\n"
        "    def forward(self, x):\n        return 1.0 / (1.0 - x[:, 0, :1])\n")
    X = np.zeros((3, 4, L), np.uint8)
    X[2, 0, 0] = 1
    with h5py.File(tmp_path / "onehot.h5", "w") as h5:
        h5["X"] = X
    pd.DataFrame({"idx": range(3), "chrom": "chr1", "start": [0, 60, 120],
                  "end": [50, 110, 170], "summit": [25, 85, 145], "name": ["a", "b", "c"],
                  "score": 0.0}).to_csv(tmp_path / "loci.tsv", sep="\t", index=False)
    spec = {"path": str(tmp_path / "m.pt"), "format": "state_dict",
            "class": f"{tmp_path / 'inf_on_a.py'}:InfOnA", "input_length": L}
    main(str(tmp_path / "onehot.h5"), str(tmp_path / "loci.tsv"), spec, {"t": 0}, 2, "cpu",
         str(tmp_path / "p.tsv"), str(tmp_path / "p.h5"))


BAD_INPUTS = [
    # (4) config typos and run names
    (config_typo_top, "unknown config key atribution (at the top level); did you mean attribution?"),
    (config_typo_nested, "did you mean attribution.n_shuffles?"),
    (config_typo_stage, "did you mean stages.attribution?"),
    (config_key_in_wrong_section, "did you mean marginalize.n_backgrounds? (the key belongs there)"),
    (config_typo_list_item, "unknown config key simulate.motifs[0].peak"),
    (config_unknown_key, "the keys allowed here are run, genome"),
    (run_name_dotdot, "config key run: '..' is not a plain name"),
    (run_name_with_slash, "config key run: '../elsewhere' is not a plain name"),
    # (1) DeepLIFT/SHAP needs module structure; deltas above the threshold fail the stage
    (deeplift_on_torchscript, "(model.format: torchscript) does not keep"),
    (deeplift_on_torchscript, "set attribution.method: ism"),
    (deeplift_on_export, "a torch.export archive (model.format: export)"),
    (marginalize_deeplift_on_export, "set marginalize.func: predict"),
    (filters_on_torchscript, "the filters stage reads first-layer activations"),
    (deeplift_on_loaded_torchscript, "model.format: torchscript"),
    (deeplift_on_loaded_export, "a torch.export archive (model.format: export)"),
    (large_deltas_fail_the_merge, "set attribution.allow_large_deltas: true"),
    # (2) genome FASTA and its index; peaks against the contigs
    (stale_fai_truncated_fasta, "(truncated FASTA, or stale index); delete"),
    (fai_of_another_fasta, "does not start on a new line"),
    (fasta_grew_after_indexing, "(the FASTA grew after it was indexed); delete"),
    (peak_past_contig_end, "peaks.narrowPeak line 2: peak chr1:120-180 ends past the end of "
                           "contig 'chr1' (150 bp"),
    (bad_character_in_fasta, "character '*' at chr2:77 (0-based) is not DNA"),
    # (5) misleading messages
    (negative_summit, "peaks.narrowPeak line 2: summit offset -7 (column 10) is negative"),
    (torchscript_given_as_state_dict, "is a TorchScript archive (torch.jit.save), not a "
                                      "state_dict; set model.format: torchscript"),
    (state_dict_given_as_torchscript, "not a TorchScript archive; set model.format: state_dict"),
    (export_with_fixed_batch, "exported with a fixed batch size of 8"),
    # (3) NaN / inf model outputs
    (nan_model_at_load, "dummy forward pass on an all-zero window: the model returned nan"),
    (inf_prediction_names_locus, "predict: the model returned inf for locus 1 (chr1:10-60)"),
    (nan_in_the_predict_stage, "predict: the model returned inf for locus 2 (chr1:120-170)"),
    (nan_in_marginalization, "marginalize: the model returned nan for background sequence 0"),
]


@pytest.mark.parametrize("make, fragment", BAD_INPUTS,
                         ids=[f"{make.__name__}-{i}" for i, (make, _) in enumerate(BAD_INPUTS)])
def test_bad_input_stops_with_its_message(make, fragment, tmp_path):
    with pytest.raises(InputError) as caught:
        make(tmp_path)
    message = str(caught.value)
    assert fragment in message
    assert "\n" not in message


# --- the cases that are reports rather than refusals -----------------------------------------


def test_good_configs_pass_the_closed_schema():
    import yaml

    for path in [REPO / "config" / "config.yaml", REPO / "tests" / "config" / "config.yaml",
                 *sorted((REPO / "config" / "examples").glob("*.yaml"))]:
        check_config_keys(yaml.safe_load(path.read_text()), SCHEMA, source=str(path))


def test_matching_fai_passes_and_files_are_sniffed(tmp_path):
    from motifscope.io.loci import open_fasta

    genome = _genome(tmp_path)
    open_fasta(genome)
    check_fai(genome)  # the index pyfaidx just wrote describes the file
    torch.save(_net().state_dict(), tmp_path / "sd.pt")
    assert sniff_model_file(tmp_path / "sd.pt") == "state_dict"
    assert sniff_model_file(genome) is None


def test_all_n_windows_are_reported(tmp_path, caplog):
    from extract_loci import report_all_n

    from motifscope.io import write_onehot
    from motifscope.io.loci import open_fasta, plan_loci

    genome = _genome(tmp_path, {"chr1": SEQ["chr1"], "chr2": "N" * 200})
    peaks = read_peaks(_peaks(tmp_path, [("chr1", 50, 100, 10), ("chr2", 50, 100, 10),
                                         ("chr2", 120, 170, 10)]))
    fasta = open_fasta(genome)
    loci, _ = plan_loci(peaks, {k: len(fasta[k]) for k in fasta.keys()}, L)
    write_onehot(loci, fasta, tmp_path / "onehot.h5", L)
    with caplog.at_level(logging.WARNING, logger="motifscope.extract_loci"):
        assert report_all_n(loci, tmp_path / "onehot.h5", chunk=2) == 2
    assert "2 of 3 windows are entirely N" in caplog.text and "chr2:35-85" in caplog.text


def test_finite_outputs_pass():
    check_finite(np.ones((4, 2)), "predict")
    check_predictions_finite(_InfOnA(), np.zeros((3, 4, L), np.float32), "predict")


def test_allowed_large_deltas_pass_and_mark_the_report():
    from merge_attributions import refuse_large_deltas

    from motifscope.report.html import STATUS_LABELS

    refuse_large_deltas(["loci [0, 8): deep_lift_shap: convergence deltas up to 3"], True)
    refuse_large_deltas([], False)
    assert "warning" in STATUS_LABELS


def test_gzip_outputs_are_byte_identical_across_runs(tmp_path):
    frame = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    write_tsv_gz(frame, tmp_path / "one" / "hits.tsv.gz", sep="\t", index=False)
    time.sleep(1.1)  # gzip's mtime has one-second resolution
    write_tsv_gz(frame, tmp_path / "two" / "hits.tsv.gz", sep="\t", index=False)
    first = (tmp_path / "one" / "hits.tsv.gz").read_bytes()
    assert first == (tmp_path / "two" / "hits.tsv.gz").read_bytes()
    assert first[4:8] == b"\0\0\0\0" and b"hits.tsv\0" in first[:30]
    assert gzip.decompress(first).decode() == "a\tb\n1\tx\n2\ty\n"


@pytest.mark.workflow
@pytest.mark.parametrize("override, message", [
    ("stages: {attributions: false}", "did you mean stages.attribution?"),
    ("run: ..", "config key run: '..' is not a plain name"),
])
def test_the_workflow_refuses_before_any_job(tmp_path, override, message):
    from workflow_helpers import make_workdir, run_snakemake

    proc = run_snakemake(make_workdir(tmp_path, override), "-n", check=False)
    assert proc.returncode != 0 and message in proc.stdout + proc.stderr
