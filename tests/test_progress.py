"""The book runner's TQDM_DISABLE reaches robustlab's progress bars (tqdm.notebook ignores it)."""
from robustlab.core.progress import disabled_by_env, tqdm


def test_tqdm_disable_env(monkeypatch):
    monkeypatch.setenv("TQDM_DISABLE", "1")
    assert disabled_by_env()
    assert tqdm(range(3)).disable
    monkeypatch.setenv("TQDM_DISABLE", "0")
    assert not disabled_by_env()
    assert not tqdm(range(3), file=open("/dev/null", "w")).disable
    assert tqdm(range(3), disable=True).disable
