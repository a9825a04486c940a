"""The real-NSD path as a user with NSD runs it, on files in NSD's own layout and encodings (`write_nsd_shaped`): sessions
placed by number, nothing written into the dataset, captions required, arguments checked before any work, the README's
recipe run as written."""
import hashlib, json, os, re, shlex, subprocess, sys
from pathlib import Path
import numpy as np, h5py, pytest
from neuro_decode.config import ConfigError
from neuro_decode.nsd import (prepare_subject, load_prep, Layout, NSDFormatError, load_expdesign, find_sessions, parse_sessions)
from neuro_decode.nsd import glm_subject, glm_done
from neuro_decode.glm import GLMInputError
from conftest import ROOT

BIN = Path(sys.executable).parent
EXE = str(BIN/'neuro-decode')

def cli(*args, **kw): return subprocess.run([EXE, *map(str, args)], capture_output=True, text=True, **kw)

def digests(root:Path)->dict: return {p.relative_to(root): hashlib.sha256(p.read_bytes()).hexdigest() for p in root.rglob('*') if p.is_file()}

def truth(root):
    with h5py.File(Layout(root).truth(1)) as f: return {k: f[k][()] for k in ('image_ids', 'image_betas', 'brain_index', 'trial_image', 'trial_session')}

def recovery(prep, t)->float:
    "Median over voxels of the correlation of the prepared training betas with the true betas of the same images."
    tb = t['image_betas'][np.searchsorted(t['image_ids'], prep.train_ids)][:, np.searchsorted(t['brain_index'], prep.voxel_index)]
    return float(np.median([np.corrcoef(prep.train_betas[:, v], tb[:, v])[0, 1] for v in range(tb.shape[1])]))

@pytest.mark.parametrize('sessions', [[2, 3], [1, 3]])
def test_sessions_are_placed_by_their_number(nsd_small, tmp_path, sessions):
    "Sessions 2-3 or 1,3 recover the true betas of the images those sessions showed (not of session 1's, 2's ...)."
    t = truth(nsd_small)
    p = load_prep(prepare_subject(nsd_small, 1, tmp_path, sessions, progress=False))
    shown = np.unique(t['trial_image'][np.isin(t['trial_session'], sessions)])
    np.testing.assert_array_equal(np.sort(np.concatenate([p.train_ids, p.test_ids])), shown)
    assert p.attrs['sessions'] == sessions and recovery(p, t) > 0.9

def test_without_stimpattern_only_sessions_from_the_first(nsd_copy, tmp_path):
    from scipy.io import loadmat, savemat
    m = {k: v for k, v in loadmat(Layout(nsd_copy).expdesign).items() if not k.startswith('__') and k != 'stimpattern'}
    savemat(Layout(nsd_copy).expdesign, m)
    with pytest.raises(NSDFormatError, match=r'no stimpattern, so only sessions 1, 2, \.\.\. read in order'):
        prepare_subject(nsd_copy, 1, tmp_path, [2, 3], progress=False)
    assert load_prep(prepare_subject(nsd_copy, 1, tmp_path, [1, 2], progress=False)).attrs['sessions'] == [1, 2]

def test_hdf5_is_read_where_both_formats_exist(nsd_small, tmp_path, monkeypatch):
    "HDF5 first; read slab by slab of z-planes (here one plane at a time), it gives the NIfTI's betas exactly."
    import neuro_decode.nsd as nsd
    monkeypatch.setattr(nsd, 'SLAB_BYTES', 1)
    assert [f.name for f in find_sessions(nsd_small, 1)] == [f'betas_session0{k}.hdf5' for k in (1, 2, 3)]
    a = load_prep(prepare_subject(nsd_small, 1, tmp_path/'a', progress=False))
    b = load_prep(prepare_subject(nsd_small, 1, tmp_path/'b', fmt='nii.gz', progress=False))
    assert a.attrs['betas_format'] == ['hdf5'] and b.attrs['betas_format'] == ['nii.gz']
    np.testing.assert_array_equal(a.train_betas, b.train_betas)

def test_glm_never_writes_into_the_dataset(nsd_copy, tmp_path):
    "`neuro-decode glm` on a dataset that ships betas: every file stays byte-identical; prepare reads the derived betas."
    before = digests(nsd_copy)
    r = cli('glm', '--data', nsd_copy, '--subject', 1, '--sessions', '1-2', '--roi', 'nsdgeneral', '--out', nsd_copy/'derived', '--quiet')
    assert r.returncode == 2 and 'inside the dataset' in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    r = cli('glm', '--data', nsd_copy, '--subject', 1, '--out', nsd_copy, '--into-dataset', '--quiet')
    assert r.returncode == 2 and 'betas that this GLM did not write' in r.stderr, r.stderr
    r = cli('glm', '--data', nsd_copy, '--subject', 1, '--sessions', '1-2', '--roi', 'nsdgeneral', '--out', tmp_path/'derived', '--quiet')
    assert r.returncode == 0, r.stderr
    assert f'--betas {tmp_path/"derived"}' in r.stdout
    assert digests(nsd_copy) == before                                           # nothing in the dataset changed
    assert glm_done(tmp_path/'derived', 1, [1, 2], roi='nsdgeneral', data_root=nsd_copy)
    r = cli('prepare', '--data', nsd_copy, '--betas', tmp_path/'derived', '--subject', 1, '--out', tmp_path/'run', '--quiet')
    assert r.returncode == 0, r.stderr
    p = load_prep(tmp_path/'run'/'sub-01'/'prep.h5')
    assert p.attrs['betas_root'] == str((tmp_path/'derived').resolve()) and p.attrs['sessions'] == [1, 2]
    assert recovery(p, truth(nsd_copy)) > 0.5                                    # betas estimated from the time series
    assert digests(nsd_copy) == before

def test_derived_betas_of_another_dataset_are_refused(nsd_small, tiny_root, tmp_path):
    "Derived betas are never read for, nor replaced by, another dataset's; an unfinished fit is never read."
    rec = glm_subject(nsd_small, 1, [1], out_root=tmp_path/'derived', roi='nsdgeneral', progress=False)
    with pytest.raises(NSDFormatError, match=r'GLM.json: betas estimated from .*; expected betas of'):
        prepare_subject(tiny_root, 1, tmp_path/'run', betas_root=tmp_path/'derived', progress=False)
    before = digests(tmp_path/'derived')
    with pytest.raises(GLMInputError, match=r'GLM.json: betas of another dataset .*; refusing to replace them'):
        glm_subject(tiny_root, 1, out_root=tmp_path/'derived', progress=False)
    assert digests(tmp_path/'derived') == before
    rec.write_text(json.dumps({**json.loads(rec.read_text()), 'complete': False}))      # as an interrupted fit leaves it
    with pytest.raises(NSDFormatError, match=r'GLM.json: the GLM that writes these betas has not finished'):
        prepare_subject(nsd_small, 1, tmp_path/'run', betas_root=tmp_path/'derived', progress=False)

def test_missing_captions_stop_with_the_files_expected(nsd_copy, tmp_path):
    import shutil
    shutil.rmtree(Layout(nsd_copy).annotations)
    with pytest.raises(NSDFormatError, match=r'captions_(train|val)2017\.json: missing; expected COCO.s caption annotations .*--no-captions'):
        prepare_subject(nsd_copy, 1, tmp_path, [1], progress=False)
    assert not (tmp_path/'sub-01').exists()
    p = load_prep(prepare_subject(nsd_copy, 1, tmp_path, [1], progress=False, captions=False))
    assert p.attrs['captions'] is False or p.attrs['captions'] == 0
    assert (p.train_captions == '').all()

def test_bad_arguments_are_one_line_errors_before_any_work(nsd_small, tmp_path, capsys):
    "What a new user may mistype, each a one-line error before any node starts (the command line's own `main`, in this process)."
    from neuro_decode.run import main
    cases = [(['--noise', '-5'], 'noise amplitudes [-5]: expected values >= 0'), (['--workers', '0'], 'workers 0: expected 1 or more'),
             (['--sessions', '5-2'], 'the range 5-2 runs backwards; expected 2-5'), (['--sessions', '4-6'], 'betas_session04'),
             (['--subjects', '2'], 'unknown subject 2'), (['--preset', 'tiny', '--sessions', '1-3'], "the 'tiny' world has 1 session(s)")]
    for args, msg in cases:
        assert main(['run', '--preset', 'nsd', '--data', str(nsd_small), '--runs-dir', str(tmp_path), '--quiet', *map(str, args)]) == 2
        err = capsys.readouterr().err
        assert msg in err and len(err.strip().splitlines()) == 1, (args, err)
    assert not any(tmp_path.iterdir())                                          # nothing was written
    r = cli('run', '--preset', 'nsd', '--data', nsd_small, '--runs-dir', tmp_path, '--noise', '-5')     # and from a shell
    assert r.returncode == 2 and 'Traceback' not in r.stderr and len(r.stderr.strip().splitlines()) == 1 and not any(tmp_path.iterdir())

def readme_block(marker:str)->str:
    "The README's shell block that contains `marker`."
    blocks = re.findall(r'```sh\n(.*?)```', (ROOT/'README.md').read_text(), re.S)
    return next(b for b in blocks if marker in b)

def run_readme_block(block:str, env:dict, cwd:Path)->subprocess.CompletedProcess:
    "A README block run as written by bash, with its `export` line's values replaced by the test's and `.venv/bin` by this one."
    lines = [l for l in block.splitlines() if not l.startswith('export ')]
    script = 'set -euo pipefail\n' + '\n'.join(lines).replace('.venv/bin/', f'{BIN}/') + '\n'
    return subprocess.run(['bash', '-c', script], capture_output=True, text=True, cwd=cwd, env={**os.environ, **env})

def test_readme_nsd_recipe_runs_as_written(tmp_path):
    """The README's recipe for a real NSD copy, on an NSD-shaped dataset (NSD's design sizes and files, 30 trials a session so that
    the whole nsd-preset run fits in a test): prepare, the whole run with the bundled models, the GLM and its derived betas."""
    from neuro_decode.simulate import NSDShape, write_nsd_shaped
    nsd = write_nsd_shaped(tmp_path/'nsd', NSDShape(sessions=3, volume=(14, 16, 12), roi_voxels=200, run_trials=(3, 2), run_slots=5,
                                                    timeseries=True), progress=False)
    env = dict(NSD_ROOT=str(nsd), SESSIONS='1-2', SUBJECTS='1', NEURO_DECODE_RUNS=str(tmp_path/'runs'), OMP_NUM_THREADS='1')
    before = digests(nsd)
    r = run_readme_block(readme_block('neuro-decode prepare --data $NSD_ROOT'), env, tmp_path)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    rd = tmp_path/'runs'/'nsd'
    assert load_prep(rd/'sub-01'/'prep.h5').attrs['sessions'] == [1, 2]     # the run prepared the sessions asked for
    log = __import__('pandas').read_csv(rd/'run_log.csv')
    assert (log.status == 'done').all() and (rd/'report'/'report.html').exists(), log
    assert 'prep sub-01 sessions=1-2: done' in r.stdout and 'ran because: new' in r.stdout
    assert (rd/'sub-01'/'metrics_cnn_L15.json').exists()                         # the ablation, on the first requested subject
    r = run_readme_block(readme_block('neuro-decode glm --data $NSD_ROOT'), env, tmp_path)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert load_prep(tmp_path/'runs'/'nsd-glm-run'/'sub-01'/'prep.h5').attrs['betas_root'] == str((tmp_path/'runs'/'nsd-glm').resolve())
    assert digests(nsd) == before                                                 # nothing was written into the dataset
