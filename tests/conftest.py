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

# --- whole runs of the tiny preset, shared by the tests of the runner (test_run.py) and of SLURM (test_slurm.py)
import subprocess, sys, json
EXE = str(Path(sys.executable).parent/'neuro-decode')
UP_TO_STAGE1 = ['--steps', 'simulate', 'glm', 'prep', 'features', 'stage1']

def stage1_scores(rd:Path)->dict:
    "Every stage-1 model's held-out scores in a run folder, without their timings."
    return {p.name: {k: v for k, v in json.loads(p.read_text()).items() if k != 'seconds'} for p in sorted(rd.glob('sub-*/metrics_*_L*.json'))}

@pytest.fixture(scope='session')
def stage1_reference(tmp_path_factory, worker_id):
    """Subject 7 of the tiny preset up to stage 1 on the local backend (a process pool), uninterrupted: the numbers that
    every other backend, and every interrupted and resumed run, must give. Made once per test session, by whichever
    xdist worker asks first (the others wait on a file lock)."""
    from filelock import FileLock
    base = tmp_path_factory.getbasetemp() if worker_id == 'master' else tmp_path_factory.getbasetemp().parent
    d = base/'stage1_reference'
    with FileLock(str(base/'stage1_reference.lock')):
        if not (d/'complete').exists():
            r = subprocess.run([EXE, 'run', '--preset', 'tiny', '--quiet', '--subjects', '7', '--runs-dir', str(d), *UP_TO_STAGE1,
                                '--workers', '2'], capture_output=True, text=True)
            assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
            (d/'complete').write_text('')
    scores = stage1_scores(d/'sim-tiny')
    assert len(scores) == 5, scores                      # ridge (and brain-diffuser's alpha), GRU and the ablation's CNN and Transformer
    return scores
