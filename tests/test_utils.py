import os
import stat

import pytest
import torch

from motifscope.errors import InputError
from motifscope.utils import atomic_path, full_float32_matmul, numba_kernels, resolve_device


def test_atomic_path_renames_on_success_with_umask_permissions(tmp_path):
    target = tmp_path / "sub" / "out.tsv"
    with atomic_path(target) as tmp:
        tmp.write_text("x\n")
        assert not target.exists()
    assert target.read_text() == "x\n"
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~mask
    assert list(target.parent.iterdir()) == [target]


def test_atomic_path_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.tsv"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("partial")
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_resolve_device():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type in ("cpu", "cuda")
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match="CUDA is not available"):
            resolve_device("cuda")


def test_input_error_is_one_line():
    assert str(InputError("a\nb")) == "a b"


def test_full_float32_matmul_restores_the_callers_settings():
    saved = (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32)
    try:
        torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = True
        with pytest.raises(KeyError), full_float32_matmul():
            assert not torch.backends.cudnn.allow_tf32
            assert not torch.backends.cuda.matmul.allow_tf32
            raise KeyError("leaving by an exception restores them too")
        assert torch.backends.cudnn.allow_tf32 and torch.backends.cuda.matmul.allow_tf32
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


def test_numba_kernels_only_for_cpu_runs_that_want_them():
    cpu = torch.device("cpu")
    assert numba_kernels("motifscope.seqlets._seqlets_cpu", cpu).__name__ == "motifscope.seqlets._seqlets_cpu"
    assert numba_kernels("motifscope.seqlets._seqlets_cpu", torch.device("cuda")) is None
    assert numba_kernels("motifscope.seqlets._seqlets_cpu", cpu, enabled=False) is None
    assert numba_kernels("motifscope._no_such_kernels", cpu) is None  # as without numba


def test_progress_bars_start_no_thread(capsys):
    """A shown bar must not start tqdm's monitor thread: modisco-lite 3.0 forks its
    kernel compilation only from a single-threaded process."""
    import threading

    from motifscope.utils import progress

    before = threading.active_count()
    with progress(total=3, desc="test", verbose=True) as bar:
        bar.update(1)
        assert threading.active_count() == before
    assert "test" in capsys.readouterr().err
