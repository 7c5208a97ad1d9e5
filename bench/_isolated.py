"""Run one benchmark case in a fresh process, so that its peak memory is its own.

A spawned process starts with nothing imported or allocated by earlier cases; its peak
resident set size (``ru_maxrss``) then measures the case alone.
"""

from __future__ import annotations

import multiprocessing as mp
import resource

import torch


def _child(queue, func, args, threads):
    torch.set_num_threads(threads)
    result = func(*args)
    queue.put((result, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))


def run_isolated(func, args: tuple, threads: int):
    """``(func(*args), peak RSS in MiB)`` from a fresh process using ``threads`` torch threads.

    ``func`` must be importable by name (a module-level function) and its result picklable.
    """
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(queue, func, args, threads))
    proc.start()
    out = queue.get()
    proc.join()
    return out
