"The console script as a user runs it, and a real papermill run of the pipeline."
import subprocess, sys, json
from pathlib import Path
import pytest
from neuro_decode.nsd import load_prep

EXE = str(Path(sys.executable).parent/'neuro-decode')

def cli(*args, **kw):
    return subprocess.run([EXE, *map(str, args)], capture_output=True, text=True, **kw)

def test_simulate_and_prepare(tmp_path):
    r = cli('simulate', '--root', tmp_path/'sim', '--preset', 'tiny', '--seed', 3, '--quiet')
    assert r.returncode == 0, r.stderr
    r = cli('prepare', '--data', tmp_path/'sim', '--subject', 1, '--out', tmp_path/'run', '--quiet')
    assert r.returncode == 2 and 'neuro-decode glm --data' in r.stderr      # no betas yet: says how to make them
    r = cli('glm', '--data', tmp_path/'sim', '--subject', 1, '--out', tmp_path/'derived', '--quiet')
    assert r.returncode == 0, r.stderr
    assert 'session 1: 144 trials x' in r.stdout and 'betas (types ABCD)' in r.stdout and '--betas' in r.stdout
    assert not list((tmp_path/'sim').rglob('GLM.json'))                 # nothing written into the dataset
    (tmp_path/'bad.tsv').write_text('0 1\n2 x\n')                  # a malformed HRF library: refused before anything is touched
    r = cli('glm', '--data', tmp_path/'sim', '--subject', 1, '--hrf-library', tmp_path/'bad.tsv', '--out', tmp_path/'derived', '--quiet')
    assert r.returncode == 2 and 'bad.tsv: not a numeric table' in r.stderr, r.stderr
    assert json.loads(next((tmp_path/'derived').rglob('GLM.json')).read_text())['complete']   # the earlier fit is still complete
    r = cli('prepare', '--data', tmp_path/'sim', '--betas', tmp_path/'derived', '--subject', 1, '--out', tmp_path/'run', '--quiet')
    assert r.returncode == 0, r.stderr
    assert load_prep(tmp_path/'run'/'sub-01'/'prep.h5').test_betas.shape[0] == 12

def test_errors_are_one_line(tmp_path):
    r = cli('prepare', '--data', tmp_path/'nothing', '--subject', 1, '--out', tmp_path/'run')
    assert r.returncode == 2 and 'Traceback' not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and 'nsd_expdesign.mat: missing' in r.stderr
    r = cli('glm', '--subject', 1, '--types', 'AXZ', '--data', tmp_path/'nothing')
    assert r.returncode == 2 and 'Traceback' not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    r = cli('config', '--preset', 'huge')
    assert r.returncode == 2 and "unknown preset 'huge'" in r.stderr
    (tmp_path/'full').mkdir(); (tmp_path/'full'/'x').write_text('x')
    r = cli('simulate', '--root', tmp_path/'full', '--quiet')
    assert r.returncode == 2 and 'not empty' in r.stderr

def test_features_once_per_run(tmp_path, tiny_root):
    import h5py
    for s in (1, 7):
        assert cli('prepare', '--data', tiny_root, '--subject', s, '--out', tmp_path/'run', '--quiet').returncode == 0
    r = cli('features', '--run', tmp_path/'run', '--latents', 15, 31, '--quiet')
    assert r.returncode == 0, r.stderr
    with h5py.File(tmp_path/'run'/'features'/'vdvae_L15.h5') as f:
        ids = f['ids'][()]; assert f['latents'].shape == (len(ids), 13344)
    assert len(ids) == 12 + 2*36                                   # shared test images + each subject's own
    with h5py.File(tmp_path/'run'/'features'/'vdvae_L31.h5') as f: assert f['latents'].shape == (len(ids), 91168)
    with h5py.File(tmp_path/'run'/'features'/'clip_text.h5') as f: assert f['embeddings'].shape[:2] == (len(ids), 77)
    with h5py.File(tmp_path/'run'/'features'/'clip_vision.h5') as f: assert f['embeddings'].shape[:2] == (len(ids), 257)
    t = (tmp_path/'run'/'features'/'clip_text.h5').stat().st_mtime_ns
    assert cli('features', '--run', tmp_path/'run', '--quiet').returncode == 0        # already there: not recomputed
    assert (tmp_path/'run'/'features'/'clip_text.h5').stat().st_mtime_ns == t
    r = cli('features', '--run', tmp_path/'run', '--weights', tmp_path/'weights')
    assert r.returncode == 2 and 'imagenet64-iter-1600000-model-ema.th: missing' in r.stderr and 'openaipublic' in r.stderr
