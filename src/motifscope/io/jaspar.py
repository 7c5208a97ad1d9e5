"""Offline JASPAR exports through pyjaspar (every release ships inside its wheel)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from motifscope.errors import InputError
from motifscope.io.meme import MotifInfo, MotifSet

SPEC_HELP = ("write `jaspar:<release>:<collection>:<taxon>`, e.g. "
             "`jaspar:2024:CORE:vertebrates` (taxon `all` for every taxon)")


def parse_jaspar_spec(spec: str) -> tuple[str, str, str | None]:
    """Split ``"jaspar:<release>:<collection>:<taxon>"``.

    Parameters
    ----------
    spec : str
        E.g. ``"jaspar:2024:CORE:vertebrates"``; the release may be written ``2024`` or
        ``JASPAR2024``; a missing taxon or ``all`` means every taxon.

    Returns
    -------
    (release, collection, taxon)
        ``("JASPAR2024", "CORE", "vertebrates")``; taxon is None for all taxa.
    """
    parts = spec.split(":")
    if parts[0].lower() != "jaspar" or not 3 <= len(parts) <= 4 or not all(parts[1:]):
        raise InputError(f"config key motif_db: '{spec}' is not a JASPAR spec; {SPEC_HELP}")
    release = parts[1].upper()
    if not release.startswith("JASPAR"):
        release = f"JASPAR{release}"
    taxon = parts[3] if len(parts) == 4 and parts[3].lower() != "all" else None
    return release, parts[2].upper(), taxon


def jaspar_motifs(spec: str) -> tuple[MotifSet, pd.DataFrame]:
    """Export a JASPAR collection offline.

    Parameters
    ----------
    spec : str
        ``"jaspar:<release>:<collection>:<taxon>"`` (see :func:`parse_jaspar_spec`); only the
        latest version of each matrix is exported.

    Returns
    -------
    motifs : MotifSet
        Probabilities (counts divided by column totals), alt ids = TF names, nsites = the
        number of sites, URL lines to the JASPAR matrix pages.
    table : pandas.DataFrame
        Columns id, alt_id, width, tf_class, tf_family (``;``-joined when several).

    Raises
    ------
    InputError
        For an unknown release (listing the releases available offline) or a selection with
        no motifs.
    """
    from pyjaspar import jaspardb

    release, collection, taxon = parse_jaspar_spec(spec)
    available = jaspardb().get_releases()
    if release not in available:
        raise InputError(f"config key motif_db: JASPAR release '{release}' is not available "
                         f"offline; choose one of {', '.join(sorted(available))}")
    db = jaspardb(release=release)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        found = db.fetch_motifs(collection=collection,
                                tax_group=[taxon] if taxon else None)
    if not found:
        raise InputError(f"config key motif_db: '{spec}' selects no motifs in {release}; check "
                         "the collection (CORE, UNVALIDATED, ...) and taxon (vertebrates, "
                         "plants, insects, nematodes, fungi, urochordates)")
    motifs = MotifSet()
    rows = []
    for m in sorted(found, key=lambda m: m.matrix_id):
        counts = np.array([m.counts[c] for c in "ACGT"], dtype=np.float64)
        totals = counts.sum(axis=0)
        motifs[m.matrix_id] = counts / totals
        motifs.info[m.matrix_id] = MotifInfo(
            id=m.matrix_id, alt_id=m.name.replace(" ", "_"), nsites=float(totals.max()),
            evalue="0", url=f"https://jaspar.elixir.no/matrix/{m.matrix_id}/")
        rows.append({"id": m.matrix_id, "alt_id": m.name, "width": counts.shape[1],
                     "tf_class": ";".join(m.tf_class or []),
                     "tf_family": ";".join(m.tf_family or [])})
    return motifs, pd.DataFrame(rows)
