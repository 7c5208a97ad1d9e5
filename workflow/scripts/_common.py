"""Helpers every workflow script uses: logging to the rule's log, threads, provenance.

Scripts are thin adapters: they read ``snakemake.*``, call motifscope and write outputs
atomically. Importable without Snakemake so tests can call each script's ``main``.
"""

from __future__ import annotations

import logging
import os
import platform
import sys


def setup_logging(smk) -> logging.Logger:
    """Send stdout, stderr and Python logging of a script to the rule's log file.

    Also turns on progress bars (they go to the log) and limits torch to the rule's threads.
    """
    if smk.log:
        handle = open(smk.log[0], "w", buffering=1)
        sys.stderr = handle
        sys.stdout = handle
    os.environ["MOTIFSCOPE_PROGRESS"] = "1"
    # third-party libraries log at WARNING; motifscope's own messages at INFO (fontTools
    # would otherwise write hundreds of font-subsetting lines per PDF into the log)
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING,
                        format="%(asctime)s %(levelname)s %(message)s", force=True)
    logging.getLogger("motifscope").setLevel(logging.INFO)
    log = logging.getLogger(f"motifscope.{smk.rule}")
    try:
        import torch

        torch.set_num_threads(max(1, int(smk.threads)))
        log.info("rule %s on %s, python %s, torch %s, threads %s", smk.rule, platform.node(),
                 platform.python_version(), torch.__version__, smk.threads)
    except ImportError:  # pragma: no cover - torch is a hard dependency
        pass
    return log


def run(main, smk, **kwargs):
    """Call ``main(**kwargs)`` with logging set up; errors end up as one line in the log."""
    log = setup_logging(smk)
    from motifscope.errors import InputError

    try:
        main(**kwargs)
    except InputError as err:
        log.error("%s", err)
        print(f"motifscope error: {err}", file=sys.__stderr__)
        sys.exit(1)
