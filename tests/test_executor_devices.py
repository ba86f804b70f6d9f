"""Device set-up of the executor: one torch thread by default on the CPU,
one-line errors for a bad device or thread count or a missing GPU."""

import pytest
import torch

from executor.devices import configure_device, device_label
from skipsim.errors import UserError


@pytest.fixture
def restore_threads():
    import faiss

    before, before_faiss = torch.get_num_threads(), faiss.omp_get_max_threads()
    yield
    torch.set_num_threads(before)
    faiss.omp_set_num_threads(before_faiss)


def test_cpu_runs_on_one_thread_by_default_and_on_as_many_as_asked(restore_threads):
    import faiss

    # faiss's bank lookups too: the profile times them on the same thread count
    assert configure_device("cpu") == torch.device("cpu")
    assert torch.get_num_threads() == faiss.omp_get_max_threads() == 1
    configure_device("cpu", threads=2)
    assert torch.get_num_threads() == faiss.omp_get_max_threads() == 2
    assert device_label("cpu", 2) == "cpu (2 threads)"


@pytest.mark.parametrize("device,threads,message", [
    ("tpu", 1, "unknown device 'tpu'"),
    ("cpu", 0, "--threads must be at least 1"),
])
def test_bad_device_settings_are_one_line_errors(device, threads, message):
    with pytest.raises(UserError, match=message):
        configure_device(device, threads)


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA GPU is present")
def test_cuda_without_a_gpu_is_a_one_line_error():
    with pytest.raises(UserError, match="no CUDA device"):
        configure_device("cuda")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU on this machine")
def test_cuda_is_configured_when_present(restore_threads):
    assert configure_device("cuda").type == "cuda"
    assert device_label("cuda", 1).startswith("cuda: ")
