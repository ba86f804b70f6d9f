import pytest


@pytest.fixture
def tmp_cache(tmp_path, monkeypatch):
    """An empty skipsim cache folder for tests that must not see the real one."""
    monkeypatch.setenv("SKIPSIM_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def one_torch_thread():
    """Run with one torch thread (the executor's CPU default; on a shared
    machine more threads only spin against each other), restored after."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
