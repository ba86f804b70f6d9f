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
def run_cli(argv: list[str], capsys) -> tuple[int, list[str]]:
    """`simulate ARGV` in this process: (exit code, its `simulate: error:` lines).
    Other stderr lines (progress notes) are allowed; a traceback never is."""
    from skipsim.cli import main

    try:
        code = main(list(argv))
    except SystemExit as exit_:  # argparse's own errors and --help
        code = exit_.code
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    return code, [line for line in err.splitlines() if line.startswith("simulate: error:")]


@pytest.fixture
def user_error(capsys):
    """`user_error(argv, message)`: `simulate ARGV` fails as every bad input must,
    with exit code 2 and one `simulate: error: ...` line holding `message`;
    returns that line."""
    def check(argv: list[str], message: str = "") -> str:
        code, errors = run_cli(argv, capsys)
        assert code == 2 and len(errors) == 1, (code, errors)
        assert message in errors[0], errors[0]
        return errors[0]
    return check
