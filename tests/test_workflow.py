"""The workflow as a whole: lint, formatting, dry runs, and the tiny config end to end."""

import json
import shutil
import subprocess
import sys

import h5py
import pandas as pd
import pytest

from workflow_helpers import REPO, make_workdir, run_snakemake

pytestmark = pytest.mark.workflow

STAGE_RULES = ["motif_db", "simulate", "train", "extract_loci", "predict", "attribute",
               "merge_attributions", "call_seqlets", "annotate_seqlets", "fimo", "filter_pwms",
               "filter_tomtom", "filter_influence", "marginalize"]


def test_lint_and_format_are_clean():
    lint = subprocess.run([sys.executable, "-m", "snakemake", "--lint"], cwd=REPO,
                          capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    fmt = subprocess.run([sys.executable, "-m", "snakefmt", "--check", "."], cwd=REPO,
                         capture_output=True, text=True)
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr


def test_dry_run_of_the_demo_lists_every_stage(tmp_path):
    (tmp_path / "config").mkdir()
    shutil.copy(REPO / "config" / "config.yaml", tmp_path / "config" / "config.yaml")
    proc = run_snakemake(tmp_path, "-n", "--quiet", "rules")
    for rule in STAGE_RULES:
        assert f"\n{rule} " in proc.stdout, f"{rule} missing from the dry run:\n{proc.stdout}"


def test_switching_a_stage_off_removes_it(tmp_path):
    workdir = make_workdir(tmp_path, "stages: {marginalize: false, filters: false}")
    proc = run_snakemake(workdir, "-n", "--quiet", "rules")
    assert "\nmarginalize " not in proc.stdout and "\nfilter_pwms " not in proc.stdout
    assert "\nmerge_attributions " in proc.stdout


def test_tiny_run_writes_every_stage_contract(tiny_run):
    out = tiny_run / "results" / "tiny"
    loci = pd.read_csv(out / "loci" / "loci.tsv", sep="\t")
    assert list(loci.columns) == ["idx", "chrom", "start", "end", "summit", "name", "score"]
    assert (loci["end"] - loci["start"] == 200).all()
    with h5py.File(out / "loci" / "onehot.h5") as h5:
        assert h5["X"].shape == (len(loci), 4, 200) and h5["X"].dtype == "uint8"
    predictions = pd.read_csv(out / "predictions" / "predictions.tsv", sep="\t")
    assert {"ctcf", "spi1"} <= set(predictions.columns) and len(predictions) == len(loci)
    card = json.loads((out / "model" / "model.json").read_text())
    assert set(card["auroc"]) == {"ctcf", "spi1"} and card["input_length"] == 200
    truth = pd.read_csv(out / "sim" / "truth.tsv", sep="\t")
    assert set(truth["target"]) == {"ctcf", "spi1"}
    for target in ("ctcf", "spi1"):
        with h5py.File(out / "attributions" / f"{target}.h5") as h5:
            assert h5["attr"].shape == (len(loci), 4, 200)
        assert (out / "seqlets" / f"{target}.tsv").exists()
        assert (out / "seqlets" / f"{target}.counts.tsv").exists()
        assert (out / "fimo" / f"{target}.counts.tsv").exists()
        assert (out / "marginalize" / f"{target}.tsv").exists()
        with h5py.File(out / "modisco" / f"{target}.h5") as h5:  # modisco-lite's layout
            assert h5.attrs["window_size"] == 200
            assert set(h5) <= {"pos_patterns", "neg_patterns"}
        table = pd.read_csv(out / "modisco" / f"{target}.patterns.tsv", sep="\t")
        assert list(table.columns[:5]) == ["pattern", "metacluster", "n_seqlets", "width",
                                           "consensus"]
    assert (out / "filters" / "table.tsv").exists()
    leftovers = [p for p in tiny_run.rglob("*.tmp")]
    assert not leftovers, f"temporary files left behind: {leftovers}"


def test_every_rule_that_ran_left_a_benchmark_table(tiny_run):
    benchmarks = tiny_run / "benchmarks" / "tiny"
    ran = {p.relative_to(benchmarks).parts[0].removesuffix(".tsv")
           for p in benchmarks.rglob("*.tsv")}
    missing = set(STAGE_RULES + ["report", "summary", "filter_table", "motif_clusters",
                                 "modisco", "modisco_shared", "tracks"]) - ran
    assert not missing, f"no benchmarks/tiny/<rule> table for {sorted(missing)}"
    table = pd.read_csv(benchmarks / "predict.tsv", sep="\t")
    assert {"s", "max_rss"} <= set(table.columns) and (table["s"] >= 0).all()


def test_rerun_has_nothing_to_do(tiny_run):
    proc = run_snakemake(tiny_run, "-n")
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_bad_peak_file_stops_with_one_line_and_no_output(tmp_path):
    workdir = make_workdir(tmp_path)
    (workdir / "genome.fa").write_text(">chr1\n" + "ACGT" * 200 + "\n")
    (workdir / "peaks.bed").write_text("1\t100\t200\n")
    (workdir / "model.pt").write_bytes(b"")
    config = workdir / "config" / "config.yaml"
    text = config.read_text().replace("enabled: true", "enabled: false")
    config.write_text(text + "\ngenome: genome.fa\npeaks: peaks.bed\nmodel: {path: model.pt}\n")
    proc = run_snakemake(workdir, "--cores", "1", "results/tiny/loci/loci.tsv", check=False)
    assert proc.returncode != 0
    log = (workdir / "logs" / "tiny" / "extract_loci.log").read_text()
    assert "peaks.bed line 1: contig '1' is not in genome.fa" in log
    assert "add a 'chr' prefix" in log
    assert not (workdir / "results" / "tiny" / "loci").exists() or not any(
        (workdir / "results" / "tiny" / "loci").iterdir())
