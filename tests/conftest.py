import pytest


@pytest.fixture
def tmp_cache(tmp_path, monkeypatch):
    """An empty skipsim cache folder for tests that must not see the real one."""
    monkeypatch.setenv("SKIPSIM_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"
