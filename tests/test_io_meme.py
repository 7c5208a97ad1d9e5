import numpy as np
import pytest

from motifscope.errors import InputError
from motifscope.io import MotifInfo, jaspar_motifs, parse_jaspar_spec, read_meme, write_meme

MEME5 = """MEME version 5.5.8

ALPHABET "DNA" DNA-LIKE
A "Adenine" CC0000 ~ T "Thymine" 008000
C "Cytosine" 0000CC ~ G "Guanine" FFB300
N "Any base" = ACGT
END ALPHABET

strands: + -

Background letter frequencies (from file genome.fa):
A 0.29500 C 0.20500
G 0.20500 T 0.29500

MOTIF MOTIF1 GATA-like
letter-probability matrix: alength= 4 w= 3 nsites= 17 E= 1.2e-005
  0.100000  0.000000  0.800000  0.100000
  0.900000  0.050000  0.050000  0.000000
  0.000000  0.000000  0.000000  1.000000
URL http://example.org/motif1

MOTIF M2
letter-probability matrix: alength= 4 w= 2
0.25 0.25 0.25 0.25
0.7 0.1 0.1 0.1
"""


def test_reads_meme5_file_with_all_fields(tmp_path):
    path = tmp_path / "m.meme"
    path.write_text(MEME5)
    motifs = read_meme(path)
    assert list(motifs) == ["MOTIF1", "M2"]
    assert motifs["MOTIF1"].shape == (4, 3)
    np.testing.assert_allclose(motifs["MOTIF1"][:, 0], [0.1, 0, 0.8, 0.1])
    info = motifs.info["MOTIF1"]
    assert (info.alt_id, info.nsites, info.evalue, info.url) == (
        "GATA-like", 17.0, "1.2e-005", "http://example.org/motif1")
    np.testing.assert_allclose(motifs.background, [0.295, 0.205, 0.205, 0.295])
    assert motifs.strands == "+ -"
    # the last motif ends at end of file without a trailing line and is still read
    np.testing.assert_allclose(motifs["M2"][:, 1], [0.7, 0.1, 0.1, 0.1])


def test_round_trip_keeps_everything(tmp_path):
    path = tmp_path / "m.meme"
    path.write_text(MEME5)
    first = read_meme(path)
    write_meme(first, tmp_path / "again.meme")
    second = read_meme(tmp_path / "again.meme")
    assert list(second) == list(first)
    for key in first:
        np.testing.assert_allclose(second[key], first[key], atol=1e-6)
        assert second.info[key] == first.info[key]
    np.testing.assert_allclose(second.background, first.background, atol=1e-6)
    assert second.strands == first.strands


@pytest.mark.oracle
def test_jaspar_export_round_trip_matches_memelite(tmp_path):
    from memelite.io import read_meme as ml_read_meme

    motifs, table = jaspar_motifs("jaspar:2024:CORE:vertebrates")
    assert len(motifs) == len(table) > 800
    assert motifs.info["MA0139.2"].alt_id == "CTCF"
    path = write_meme(motifs, tmp_path / "jaspar.meme")
    again = read_meme(path)
    theirs = ml_read_meme(str(path))
    assert len(theirs) == len(again)
    for key, matrix in theirs.items():
        motif_id, _, alt = key.partition(" ")
        np.testing.assert_allclose(again[motif_id], np.asarray(matrix), atol=1e-6)
        assert again.alt_id(motif_id) == alt
        # 6 decimals in the text format, then renormalised columns: 1e-5 is the rounding bound
        np.testing.assert_allclose(again[motif_id], motifs[motif_id], atol=1e-5)


def test_jaspar_spec_parsing_and_errors():
    assert parse_jaspar_spec("jaspar:2024:CORE:vertebrates") == ("JASPAR2024", "CORE",
                                                                 "vertebrates")
    assert parse_jaspar_spec("JASPAR:JASPAR2022:core:all") == ("JASPAR2022", "CORE", None)
    with pytest.raises(InputError, match="motif_db"):
        parse_jaspar_spec("jaspar:2024")
    with pytest.raises(InputError, match="JASPAR2024"):
        jaspar_motifs("jaspar:1999:CORE:vertebrates")


def _bad(tmp_path, text):
    path = tmp_path / "bad.meme"
    path.write_text(text)
    return path


HEADER = "MEME version 4\n\nALPHABET= ACGT\n\nMOTIF A1\n"


@pytest.mark.parametrize("body, pattern", [
    ("letter-probability matrix: alength= 4 w= 2\n0.5 0.5 0.5 0.5\n0.25 0.25 0.25 0.25\n",
     r"line 7: .*summing to 2"),
    ("letter-probability matrix: alength= 4 w= 2\n0.5 0.5 0\n0.25 0.25 0.25 0.25\n",
     r"line 7: .*3 columns"),
    ("letter-probability matrix: alength= 4 w= 3\n0.25 0.25 0.25 0.25\n\nMOTIF B\n",
     r"1 rows but its header says w= 3"),
    ("letter-probability matrix: alength= 4 w= 0\n", "width w= 0"),
])
def test_malformed_matrices_name_the_line(tmp_path, body, pattern):
    with pytest.raises(InputError, match=pattern):
        read_meme(_bad(tmp_path, HEADER + body))


def test_non_dna_alphabet_and_duplicates(tmp_path):
    with pytest.raises(InputError, match="not DNA"):
        read_meme(_bad(tmp_path, "MEME version 4\nALPHABET= ACDEFGHIKLMNPQRSTVWY\n"))
    dup = HEADER + "letter-probability matrix: w= 1\n1 0 0 0\n\nMOTIF A1\n"
    with pytest.raises(InputError, match="appears twice"):
        read_meme(_bad(tmp_path, dup))
    with pytest.raises(InputError, match="does not exist"):
        read_meme(tmp_path / "missing.meme")


def test_write_meme_rejects_transposed_matrices(tmp_path):
    with pytest.raises(InputError, match="transposed"):
        write_meme({"m": np.full((6, 4), 0.25)}, tmp_path / "x.meme")
    assert not (tmp_path / "x.meme").exists()
    path = write_meme({"m": np.eye(4)}, tmp_path / "ok.meme",
                      info={"m": MotifInfo("m", alt_id="alt", nsites=3)})
    assert read_meme(path).info["m"].alt_id == "alt"


def test_select_by_id_or_alternate_name_keeps_order_and_metadata(tmp_path):
    path = tmp_path / "m.meme"
    path.write_text(MEME5)
    motifs = read_meme(path)
    chosen = motifs.select(["M2", "gata-LIKE", "MOTIF1"], "fimo.motifs")
    assert list(chosen) == ["M2", "MOTIF1"]  # in the order asked, a repeat dropped
    assert chosen.alt_id("MOTIF1") == "GATA-like"
    np.testing.assert_allclose(chosen.background, motifs.background)
    with pytest.raises(InputError, match="config key fimo.motifs: 'CTCF' is neither"):
        motifs.select(["M2", "CTCF"], "fimo.motifs")
