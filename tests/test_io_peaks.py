import gzip

import pytest

from motifscope.errors import InputError
from motifscope.io import read_peaks


def test_bed3_bed6_narrowpeak_and_gzip(tmp_path):
    (tmp_path / "a.bed").write_text("track name=x\n# comment\nchr1\t10\t20\nchr2\t5\t9\n")
    bed3 = read_peaks(tmp_path / "a.bed")
    assert bed3[["chrom", "start", "end"]].values.tolist() == [["chr1", 10, 20], ["chr2", 5, 9]]
    assert (bed3["summit"] == -1).all() and bed3["line"].tolist() == [3, 4]

    (tmp_path / "b.bed").write_text("chr1 10 20 p1 5.5 +\n")
    bed6 = read_peaks(tmp_path / "b.bed")
    assert bed6.loc[0, ["name", "score", "strand"]].tolist() == ["p1", 5.5, "+"]

    row = "chr1\t100\t300\tpk\t900\t.\t9.1\t-1\t-1\t42\n"
    with gzip.open(tmp_path / "c.narrowPeak.gz", "wt") as fh:
        fh.write(row)
    narrow = read_peaks(tmp_path / "c.narrowPeak.gz")
    assert narrow.loc[0, "summit"] == 42


@pytest.mark.parametrize("text, pattern", [
    ("chr1\t10\t20\nchr1\t30\n", "line 2: 2 columns"),
    ("chr1\t10\tx\n", "line 1: start '10' and end 'x' must be integers"),
    ("chr1\t20\t10\n", "line 1: interval 20-10 is empty"),
    ("chr1\t0\t10\tn\t.\t.\t1\t1\t1\t99\n", "line 1: summit offset 99"),
    ("track x\n\n", "has no peaks"),
])
def test_malformed_peak_files_name_the_line(tmp_path, text, pattern):
    path = tmp_path / "bad.bed"
    path.write_text(text)
    with pytest.raises(InputError, match=pattern) as err:
        read_peaks(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)
