"""Facts of the run summary about how the inputs were treated: windows with N (and those
dropped by ``loci.max_n_fraction``), and whether attributions were allowed to be
approximate (``attribution.allow_approximate``)."""

from __future__ import annotations

import h5py


def input_facts(ctx) -> list[tuple[str, str]]:
    """``(label, value)`` rows for the run summary's key-value table.

    Parameters
    ----------
    ctx : motifscope.report.sections.ReportContext
        Reads ``loci/onehot.h5``'s attributes ``n_with_n``, ``n_dropped_n``,
        ``max_n_fraction`` (written by rule extract_loci) when present, and the config.
    """
    rows = []
    if ctx.exists("loci/onehot.h5"):
        with h5py.File(ctx.path("loci/onehot.h5"), "r") as h5:
            attrs = dict(h5.attrs)
        if "n_dropped_n" in attrs:
            rows.append(("windows with N", (
                f"{int(attrs['n_with_n'])} before filtering; {int(attrs['n_dropped_n'])} "
                f"dropped for more than {float(attrs['max_n_fraction']):.3g} N "
                "(loci.max_n_fraction); N in kept windows is held in place in every "
                "reference and gets no attribution")))
    method = ctx.setting("attribution", "method", default="deeplift_shap")
    if method == "deeplift_shap" and ctx.setting("attribution", "allow_approximate",
                                                 default=False):
        rows.append(("attribution.allow_approximate", (
            "true: layers or functions without an exact DeepLIFT rule were treated as "
            "linear, so attributions are approximate (see the convergence deltas)")))
    return rows
