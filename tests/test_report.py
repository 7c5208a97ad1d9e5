"""The report: HTML helpers, every section on a synthetic run, bad input, recovery, figures."""

import hashlib
import re
import shutil
import zipfile

import numpy as np
import pandas as pd
import pytest

from motifscope.report import build_report
from motifscope.report import html as H
from motifscope.report.provenance import checksums, git_revision, sha256
from motifscope.evaluation.recovery import (
    MotifGroups,
    overlap_pairs,
    planted_motif_recovery,
    sites_in_loci,
)
from motifscope.report.sections import performance_metrics
from report_helpers import NASTY_MOTIF, NASTY_PEAK, REPO, make_config, make_run


def _statuses(page: str) -> dict:
    return dict(re.findall(r'<section id="([a-z]+)" data-status="([a-z]+)"', page))


def _section(page: str, name: str) -> str:
    match = re.search(rf'<section id="{name}".*?</section>', page, re.S)
    assert match, f"no section {name}"
    return match.group(0)


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    """A synthetic run and its report (built once for the module)."""
    root = tmp_path_factory.mktemp("report")
    run = make_run(root)
    config = make_config()
    figures = build_report(run, config, run / "report.html",
                           inputs={"motif database": run / "motifs" / "database.meme",
                                   "genome": None}, source_dir=REPO)
    return run, config, (run / "report.html").read_text(), figures


# --- html helpers --------------------------------------------------------------------------


def test_escape_and_markup():
    assert H.escape("<a href='x'>&\"") == "&lt;a href=&#x27;x&#x27;&gt;&amp;&quot;"
    assert H.escape(H.Markup("<b>")) == "<b>"
    assert H.tag("td", "<x>", class_="a\"b") == '<td class="a&quot;b">&lt;x&gt;</td>'


def test_table_cells_sort_keys_and_truncation():
    frame = pd.DataFrame({"name": ["<b>", "z"], "value": [0.000123456, np.nan],
                          "n": [3, 10], "flag": [True, False]})
    out = H.table(frame, max_rows=1, source="x/full.tsv")
    assert 'class="sortable"' in out and "&lt;b&gt;" in out and "<b>" not in out
    assert 'data-value="0.000123456"' in out and 'data-value="3"' in out
    assert "Showing 1 of 2 rows; the full table is x/full.tsv." in out
    assert H.format_number(float("nan")) == "" and H.format_number(12345678.0) == "1.235e+07"
    assert H.format_number(np.int64(7)) == "7" and H.format_number(np.bool_(True)) == "yes"


def test_image_is_inline_base64(tmp_path):
    from report_helpers import tiny_png

    out = H.image(tiny_png(), "a <b> logo")
    assert out.startswith('<img class="figure" alt="a &lt;b&gt; logo" src="data:image/png;base64,')


def test_page_has_no_external_resource_and_a_strict_policy():
    page = H.page("t <x>", "s", [H.Section("one", "One").add("text")])
    assert "default-src 'none'" in page and "img-src data:" in page
    assert not re.search(r'(src|href)="(?!data:|#)', page)
    assert "<title>t &lt;x&gt;</title>" in page


# --- the report on a synthetic run -------------------------------------------------------------


def test_every_section_is_there_with_its_status(synthetic):
    _, _, page, _ = synthetic
    assert _statuses(page) == {"learned": "ok", "summary": "ok", "model": "ok", "attribution": "ok",
                               "modisco": "ok",
                               "seqlets": "ok", "fimo": "ok", "filters": "ok",
                               # hits on by default, and the synthetic run has no hit files
                               "marginalize": "ok", "hits": "missing", "deltas": "ok",
                               "recovery": "ok", "benchmark": "skipped"}
    # The answer comes first. The synthetic seqlet and FIMO counts carry no null columns, so
    # only marginalization (z = +50 for the own motif, -20 for the other's) is a test there:
    # each planted motif is weak for its own target and not evidenced for the other.
    assert next(iter(_statuses(page))) == "learned"
    calls = pd.read_csv(synthetic[0] / "summary.tsv", sep="\t").set_index(["target", "motif_id"])
    assert calls.loc[("spi1", "MA0080.7"), "call"] == "weak"
    assert calls.loc[("spi1", "MA0080.7"), "evidence"] == "marginalize"
    assert calls.loc[("ctcf", "MA0080.7"), "call"] == "not evidenced"
    assert "not evidenced" in _section(page, "learned")


def test_user_text_is_escaped_everywhere(synthetic):
    _, _, page, _ = synthetic
    assert NASTY_PEAK not in page and NASTY_MOTIF not in page
    assert "&lt;script&gt;alert(&#x27;peak&#x27;)&lt;/script&gt;" in page
    assert "Ctcf&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in page
    # the only script is the report's own; every image is an inline data URI
    assert page.count("<script>") == 1
    assert re.findall(r'<img [^>]*src="([a-z]+):', page) and all(
        s == "data" for s in re.findall(r'<img [^>]*src="([a-z]+):', page))
    assert not re.search(r'(src|href)="(?!data:|#)', page)


def test_provenance_lists_checksums_versions_and_config(synthetic):
    run, _, page, _ = synthetic
    summary = _section(page, "summary")
    digest = hashlib.sha256((run / "motifs" / "database.meme").read_bytes()).hexdigest()
    assert digest in summary and "not given" in summary
    for package in ("motifscope", "torch", "snakemake", "logomaker"):
        assert f"<td>{package}</td>" in summary
    revision = git_revision(REPO)
    if revision:
        assert revision in summary
    assert "attribution:" in summary and "random_state" in summary  # the config dump


def test_model_section_reports_performance_against_labels(synthetic):
    _, _, page, _ = synthetic
    model = _section(page, "model")
    # the synthetic predictions separate positives perfectly (offset 2 vs -1, ramp 0.1)
    assert re.search(r'<td>ctcf</td><td class="num" data-value="12">12</td>', model)
    assert model.count('data-value="1.0">1</td>') == 4  # auROC and auPRC of both targets


def test_recovery_section_matches_the_construction(synthetic):
    _, _, page, _ = synthetic
    recovery = _section(page, "recovery")
    assert "Per planted motif" in recovery and "6 of 6 calls on planted sites" in recovery
    assert "de novo patterns" in recovery


def test_denovo_calls_are_the_pattern_seqlets_named_by_their_match(synthetic, tmp_path):
    from motifscope.report.sections import ReportContext, denovo_calls

    run, _, _, _ = synthetic
    loci = pd.read_csv(run / "loci" / "loci.tsv", sep="\t")
    truth = pd.read_csv(run / "sim" / "truth.tsv", sep="\t", keep_default_na=False)
    ctx = ReportContext(run_dir=run, config=make_config(), figure_dir=tmp_path)
    calls = denovo_calls(ctx)
    assert set(calls) == {"ctcf", "spi1"}
    assert (calls["spi1"]["motif_id"] == "MA0080.7").all()
    _, summary = planted_motif_recovery(truth, loci, ["ctcf", "spi1"], denovo=calls)
    row = summary.set_index(["method", "target"])
    for target in ("ctcf", "spi1"):
        assert row.loc[("de novo patterns", target), "site_recall"] == 1.0
        assert row.loc[("de novo patterns", target), "motif_recall"] == 1.0


def test_figures_are_written_as_pdf_and_png(synthetic):
    run, _, _, figures = synthetic
    names = sorted(p.name for p in figures)
    assert names == sorted(f"{s}.{e}" for s in ("performance", "attribution_ctcf",
                                                "attribution_spi1", "recovery")
                           for e in ("pdf", "png"))
    assert all(p.parent == run / "figures" and p.stat().st_size > 1000 for p in figures)


def test_rebuilding_gives_identical_bytes(synthetic, tmp_path):
    run, config, page, figures = synthetic
    copy = tmp_path / "results" / "synthetic"
    shutil.copytree(run, copy)
    shutil.rmtree(copy / "figures")
    (copy / "report.html").unlink()
    again = build_report(copy, config, copy / "report.html",
                         inputs={"motif database": copy / "motifs" / "database.meme",
                                 "genome": None}, source_dir=REPO)
    for first, second in zip(sorted(figures), sorted(again)):
        assert first.name == second.name and first.read_bytes() == second.read_bytes()
    # the page embeds the same figures; only the checksum row's path differs
    strip = re.compile(r"<td>[^<]*database\.meme</td>")
    assert strip.sub("", (copy / "report.html").read_text()) == strip.sub("", page)


# --- bad input: stages that produced nothing, switched off, or missing -------------------------


def test_empty_seqlets_and_hits_get_a_sentence(tmp_path):
    run = make_run(tmp_path, empty_seqlets=("ctcf", "spi1"), empty_fimo=("ctcf", "spi1"),
                   filters_match=False)
    build_report(run, make_config(report={"n_examples": 1}), run / "report.html")
    page = (run / "report.html").read_text()
    status = _statuses(page)
    assert status["seqlets"] == "empty" and status["fimo"] == "empty"
    assert "No seqlets were called for ctcf" in _section(page, "seqlets")
    assert "No FIMO hit at p &lt; 0.0001 in any locus for spi1" in _section(page, "fimo")
    assert "No filter matches a database motif at q &lt;= 0.1" in _section(page, "filters")
    recovery = _section(page, "recovery")
    assert "0 of 0 calls on planted sites" in recovery


def test_stages_switched_off_are_listed_as_skipped(tmp_path):
    run = make_run(tmp_path)
    config = make_config(stages={"fimo": False, "marginalize": False, "filters": False},
                         report={"n_examples": 1})
    build_report(run, config, run / "report.html")
    page = (run / "report.html").read_text()
    status = _statuses(page)
    assert status["fimo"] == status["marginalize"] == status["filters"] == "skipped"
    assert "Skipped: stages.fimo is false in the config." in page
    assert "skipped (stages.marginalize: false)" in _section(page, "summary")
    # recovery compares only the methods that ran
    assert "marginalization" not in _section(page, "recovery").split("Per method")[1][:2000]


def test_missing_outputs_are_marked_not_crashed(tmp_path):
    run = make_run(tmp_path)
    (run / "marginalize" / "spi1.tsv").unlink()
    (run / "predictions" / "predictions.tsv").unlink()
    build_report(run, make_config(report={"n_examples": 1}), run / "report.html",
                 expected_figures=["performance"])
    page = (run / "report.html").read_text()
    assert _statuses(page)["model"] == "missing"
    assert "synthetic/marginalize/spi1.tsv" in _section(page, "marginalize")
    # a declared figure with nothing to draw still exists, saying so
    assert (run / "figures" / "performance.png").stat().st_size > 0


def test_user_data_without_truth_skips_recovery(tmp_path):
    run = make_run(tmp_path)
    config = make_config(report={"n_examples": 1})
    config["simulate"]["enabled"] = False
    build_report(run, config, run / "report.html")
    page = (run / "report.html").read_text()
    assert _statuses(page)["recovery"] == "skipped"
    assert "No labels are known for these loci" in _section(page, "model")


# --- planted-motif recovery ---------------------------------------------------------------------


def test_recovery_tables_follow_the_construction(synthetic):
    run, _, _, _ = synthetic
    read = lambda p, **k: pd.read_csv(run / p, sep="\t", keep_default_na=False, **k)  # noqa: E731
    targets = ["ctcf", "spi1"]
    per_motif, summary = planted_motif_recovery(
        read("sim/truth.tsv"), read("loci/loci.tsv"), targets,
        seqlets={t: read(f"seqlets/{t}.annotated.tsv") for t in targets},
        fimo={t: read(f"fimo/{t}.hits.tsv.gz") for t in targets},
        filters=read("filters/matches.tsv"),
        marginalization={t: read(f"marginalize/{t}.tsv") for t in targets},
        groups=MotifGroups(read("motifs/database.tsv"), read("motifs/clusters.tsv")))
    row = summary.set_index(["method", "target"])
    # every planted site has a seqlet and a FIMO hit naming its motif
    for method in ("seqlets", "fimo"):
        for target in targets:
            assert row.loc[(method, target), "site_recall"] == 1.0
            assert row.loc[(method, target), "site_precision"] == 1.0
    # the GATA1 decoy (attribution -0.5) passes a threshold of -1 only
    _, loose = planted_motif_recovery(
        read("sim/truth.tsv"), read("loci/loci.tsv"), targets,
        fimo={t: read(f"fimo/{t}.hits.tsv.gz") for t in targets}, attribution_threshold=-1)
    assert loose.loc[0, "site_precision"] == pytest.approx(6 / 7)
    assert loose.loc[0, "motif_precision"] == 0.5
    # filter0 names the ctcf motif only; marginalization finds both (z 50, decoys below 3)
    assert row.loc[("filters", "all"), "motif_recall"] == 0.5
    assert row.loc[("filters", "all"), "motif_precision"] == 1.0
    assert row.loc[("marginalize", "ctcf"), "found"] == 1
    assert row.loc[("marginalize", "spi1"), "motif_precision"] == 1.0
    found = per_motif.set_index(["method", "motif_id"])["found"]
    assert not found[("filters", "MA0080.7")] and found[("filters", "MA0139.2")]


def test_overlap_pairs_equal_brute_force(rng):
    def intervals(n, width):
        start = rng.integers(0, 500, n)
        return pd.DataFrame({"chrom": rng.choice(["a", "b"], n), "start": start,
                             "end": start + rng.integers(1, width, n)})

    calls, sites = intervals(300, 25), intervals(80, 20)
    got = set(zip(*overlap_pairs(calls, sites, 0.5)))
    expected = set()
    for i, c in calls.iterrows():
        for j, s in sites.iterrows():
            overlap = min(c.end, s.end) - max(c.start, s.start)
            shorter = min(c.end - c.start, s.end - s.start)
            if c.chrom == s.chrom and overlap > 0 and overlap >= 0.5 * shorter:
                expected.add((i, j))
    assert got == expected and len(expected) > 20


def test_sites_in_loci_keeps_only_sites_inside_windows():
    truth = pd.DataFrame({"chrom": ["c", "c", "c", "d"], "start": [5, 95, 210, 5],
                          "end": [12, 105, 220, 9], "motif_id": "m", "motif_alt_id": "",
                          "target": "t"})
    loci = pd.DataFrame({"idx": [0, 1], "chrom": ["c", "c"], "start": [0, 200],
                         "end": [100, 300]})
    sites = sites_in_loci(truth, loci)
    assert list(sites["start"]) == [5, 210] and list(sites["example_idx"]) == [0, 1]
    assert list(sites["window_start"]) == [5, 10]


def test_dimer_parts_and_relative_effect():
    database = pd.DataFrame({"id": ["d", "g", "t", "x", "g2", "z"],
                             "alt_id": ["GATA1::TAL1", "Gata1", "TAL1::TCF3", "X", "GATA2",
                                        "ZNF"],
                             "tf_family": ["GATA;Tal", "GATA", "Tal;E2A", "", "GATA", "ZF"]})
    groups = MotifGroups(database)
    # the dimer accepts its parts by name (g) and single-family motifs of its families (g2)
    assert groups.accepted("d") == {groups.group(i) for i in ("d", "g", "g2")}
    assert groups.accepted("g") == {groups.group("g")}  # a part does not accept the dimer
    truth = pd.DataFrame({"chrom": ["c"], "start": [10], "end": [27], "motif_id": ["d"],
                          "motif_alt_id": ["GATA1::TAL1"], "target": ["t1"]})
    loci = pd.DataFrame({"idx": [0], "chrom": ["c"], "start": [0], "end": [100]})
    seqlets = pd.DataFrame({"chrom": ["c", "c"], "start": [12, 60], "end": [20, 66],
                            "rank": 1, "motif_id": ["g", "x"], "q-value": 0.01})
    marginal = pd.DataFrame({"motif": ["x", "d", "g"], "delta_mean": [1.0, 0.6, 0.3],
                             "z": [9.0, 9.0, 9.0]})
    per_motif, summary = planted_motif_recovery(truth, loci, ["t1"], seqlets={"t1": seqlets},
                                                marginalization={"t1": marginal},
                                                groups=groups, min_effect=0.5)
    row = summary.set_index("method")
    assert row.loc["seqlets", "site_recall"] == 1 and row.loc["seqlets", "site_precision"] == 0.5
    # x (1.0) and d (0.6) pass half the strongest effect, g (0.3) does not
    assert row.loc["marginalize", "called"] == 2 and row.loc["marginalize", "found"] == 1
    assert row.loc["marginalize", "motif_precision"] == 0.5


def test_distractor_is_a_control_and_the_summary_a_method():
    database = pd.DataFrame({"id": ["a", "b", "z"], "alt_id": ["A", "B", "Z"]})
    groups = MotifGroups(database)
    truth = pd.DataFrame({"chrom": "c", "start": [10, 40, 70], "end": [18, 48, 78],
                          "motif_id": ["a", "b", "z"], "motif_alt_id": ["A", "B", "Z"],
                          "target": ["t1", "t2", ""]})
    loci = pd.DataFrame({"idx": [0], "chrom": ["c"], "start": [0], "end": [100]})
    calls = pd.DataFrame({"target": ["t1", "t1", "t2"], "motif_id": ["a", "z", "a"],
                          "call": ["learned", "weak", "learned"]})
    per_motif, summary = planted_motif_recovery(truth, loci, ["t1", "t2"], groups=groups,
                                                summary_calls=calls)
    rows = per_motif[per_motif["method"] == "summary"].set_index(["target", "motif_id"])
    assert rows.loc[("t1", "a"), "found"] and rows.loc[("t1", "a"), "role"] == "driver"
    assert "also learned for t2" in rows.loc[("t1", "a"), "evidence"]
    assert not rows.loc[("t1", "z"), "found"] and rows.loc[("t1", "z"), "role"] == "distractor"
    assert not rows.loc[("t2", "b"), "found"]  # t2's driver was not learned; a was, wrongly
    per_target = summary[summary["method"] == "summary"].set_index("target")
    assert per_target.loc["t1", "planted_motifs"] == 1  # the distractor is not a motif to find
    assert per_target.loc["t2", "called_planted"] == 1 and per_target.loc["t2", "found"] == 0


def test_motif_groups_join_clusters_and_names():
    database = pd.DataFrame({"id": ["a", "b", "c", "d"], "alt_id": ["CTCF", "ctcf", "X", "Y"]})
    clusters = pd.DataFrame({"id": ["a", "b", "c", "d"], "cluster": ["1", "2", "2", "3"]})
    groups = MotifGroups(database, clusters)
    assert groups.group("a") == groups.group("b") == groups.group("c")
    assert groups.group("d") != groups.group("a") and groups.group("zz") == "zz"


# --- metrics and provenance ----------------------------------------------------------------------


@pytest.mark.oracle
def test_performance_metrics_match_scikit_learn(rng):
    from sklearn.metrics import average_precision_score, roc_auc_score

    y = (rng.random(300) < 0.3).astype(float)
    predictions = pd.DataFrame({"t": rng.normal(size=300) + y})
    metrics = performance_metrics(predictions, pd.DataFrame({"t": y}), ["t"]).iloc[0]
    assert metrics["auroc"] == pytest.approx(roc_auc_score(y, predictions["t"]), abs=1e-12)
    assert metrics["auprc"] == pytest.approx(average_precision_score(y, predictions["t"]),
                                             abs=1e-12)
    assert (metrics["n_positive"], metrics["n_negative"]) == (y.sum(), 300 - y.sum())


def test_checksums(tmp_path):
    path = tmp_path / "f.txt"
    path.write_bytes(b"x" * 3_000_000)
    assert sha256(path) == hashlib.sha256(b"x" * 3_000_000).hexdigest()
    rows = checksums({"a": path, "b": None, "c": tmp_path / "gone"})
    assert [r[2] for r in rows[1:]] == ["not given", "file not found"] and rows[0][3] == 3e6


# --- the workflow ------------------------------------------------------------------------------


@pytest.mark.workflow
def test_tiny_run_report_and_snakemake_report(tiny_run, tmp_path):
    from workflow_helpers import run_snakemake

    out = tiny_run / "results" / "tiny"
    page = (out / "report.html").read_text()
    assert _statuses(page)["recovery"] == "ok" and "CTCF" in page
    for stem in ("performance", "attribution_ctcf", "attribution_spi1", "recovery"):
        assert (out / "figures" / f"{stem}.png").exists()
        assert (out / "figures" / f"{stem}.pdf").exists()
    archive = tmp_path / "report.zip"
    run_snakemake(tiny_run, "--report", str(archive))
    names = zipfile.ZipFile(archive).namelist()
    for expected in ("performance.png", "recovery.png", "attribution_ctcf.png", "report.html",
                     "influence.png"):
        assert any(n.endswith(expected) for n in names), expected
