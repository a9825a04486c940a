"Shared fixtures: one tiny simulated NSD per test session (built by the library itself)."
import os, shutil
from pathlib import Path
import pytest

os.environ.setdefault('HF_HUB_OFFLINE', '1')
ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent/'shared'/'data'

@pytest.fixture(scope='session')
def tiny_root(tmp_path_factory):
    "A tiny simulated NSD (subjects 1 and 7) with its GLM betas; read-only by convention: copy it before damaging it."
    from neuro_decode.simulate import simulate_nsd
    from neuro_decode.glm import glm_subject
    root = simulate_nsd(tmp_path_factory.mktemp('sim')/'tiny', 'tiny', seed=0, progress=False)
    for s in (1, 7): glm_subject(root, s, progress=False)
    return root

@pytest.fixture
def tiny_copy(tiny_root, tmp_path):
    "A private copy of the tiny dataset that a test may damage."
    dst = tmp_path/'nsd'
    shutil.copytree(tiny_root, dst)
    return dst
