"Shared fixtures: one tiny simulated NSD per test session (built by the library itself)."
import os, shutil
from pathlib import Path
import pytest

os.environ.setdefault('HF_HUB_OFFLINE', '1')
ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent/'shared'/'data'

@pytest.fixture(scope='session')
def tiny_root(tmp_path_factory):
    """A tiny simulated NSD (subjects 1 and 7) with its GLM betas inside it, as NSD ships its betas (asked for by name:
    `into_dataset`); read-only by convention: copy it before damaging it."""
    from neuro_decode.simulate import simulate_nsd
    from neuro_decode.nsd import glm_subject
    root = simulate_nsd(tmp_path_factory.mktemp('sim')/'tiny', 'tiny', seed=0, progress=False)
    for s in (1, 7): glm_subject(root, s, out_root=root, into_dataset=True, progress=False)
    return root

@pytest.fixture
def tiny_copy(tiny_root, tmp_path):
    "A private copy of the tiny dataset that a test may damage."
    dst = tmp_path/'nsd'
    shutil.copytree(tiny_root, dst)
    return dst

SMALL_NSD = dict(sessions=3, volume=(14, 16, 12), roi_voxels=300, run_trials=(5, 4), run_slots=7, timeseries=True)

@pytest.fixture(scope='session')
def nsd_small(tmp_path_factory):
    """An NSD-shaped subject 1 written by `write_nsd_shaped`: NSD's design sizes, encodings and files (betas in both formats,
    time series with design files, a sparse 73,000-image stimulus file), at a small volume and 54 trials a session."""
    from neuro_decode.simulate import NSDShape, write_nsd_shaped
    return write_nsd_shaped(tmp_path_factory.mktemp('nsd')/'nsd', NSDShape(**SMALL_NSD), progress=False)

@pytest.fixture
def nsd_copy(nsd_small, tmp_path):
    "A private copy of the NSD-shaped dataset that a test may damage."
    dst = tmp_path/'nsd'
    shutil.copytree(nsd_small, dst)
    return dst
