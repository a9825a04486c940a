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
    r = cli('glm', '--data', tmp_path/'sim', '--subject', 1, '--quiet')
    assert r.returncode == 0, r.stderr
    assert 'session 1: 144 trials x' in r.stdout and 'betas (types ABCD)' in r.stdout
    r = cli('prepare', '--data', tmp_path/'sim', '--subject', 1, '--out', tmp_path/'run', '--quiet')
    assert r.returncode == 0, r.stderr
    assert load_prep(tmp_path/'run'/'sub-01'/'prep.h5').test_betas.shape[0] == 12

def test_errors_are_one_line(tmp_path):
    r = cli('prepare', '--data', tmp_path/'nothing', '--subject', 1, '--out', tmp_path/'run')
    assert r.returncode == 2 and 'Traceback' not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and 'nsd_expdesign.mat: missing' in r.stderr
    r = cli('config', '--preset', 'huge')
    assert r.returncode == 2 and "unknown preset 'huge'" in r.stderr
    (tmp_path/'full').mkdir(); (tmp_path/'full'/'x').write_text('x')
    r = cli('simulate', '--root', tmp_path/'full', '--quiet')
    assert r.returncode == 2 and 'not empty' in r.stderr

def test_run_executes_notebooks_with_papermill(tmp_path):
    r = cli('run', '--preset', 'tiny', '--runs-dir', tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    ex = tmp_path/'sim-tiny'/'executed'
    assert sorted(p.name for p in ex.iterdir()) == ['02_simulate.ipynb', '03_glm_sub-01.ipynb', '03_glm_sub-07.ipynb',
                                                    '04_nsd_sub-01.ipynb', '04_nsd_sub-07.ipynb']
    assert (tmp_path/'sim-tiny'/'sub-07'/'glm_accuracy.csv').exists()
    nb = json.loads((ex/'04_nsd_sub-07.ipynb').read_text())
    injected = [c for c in nb['cells'] if 'injected-parameters' in c['metadata'].get('tags', [])]
    assert injected and 'subject = 7' in ''.join(injected[0]['source'])
    assert load_prep(tmp_path/'sim-tiny'/'sub-07'/'prep.h5').attrs['subject'] == 7
    assert 'steps not landed yet' in r.stdout and 'sub-07' in r.stdout
