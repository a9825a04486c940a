"""The runner (15_run) as a user runs it: a whole tiny run with papermill, resume, a damaged intermediate file,
an interrupted run (SIGKILL), and the Dask backend, each against an uninterrupted local run (conftest's `stage1_reference`)."""
import json, os, signal, subprocess, sys, time, shutil
from pathlib import Path
import pandas as pd, pytest
from conftest import EXE, UP_TO_STAGE1, stage1_scores

SUBJECTS = ['--subjects', '7', '1']     # subject 7 first: the ablation and the noise analysis follow the first requested subject

def run(*args, **kw):
    return subprocess.run([EXE, 'run', '--preset', 'tiny', '--quiet', *SUBJECTS, *map(str, args)], capture_output=True, text=True, **kw)

def log(rd): return pd.read_csv(rd/'run_log.csv')

@pytest.fixture(scope='module')
def full(tmp_path_factory):
    "One whole tiny run: every step, every subject, the report."
    d = tmp_path_factory.mktemp('runs')
    r = run('--runs-dir', d, '--workers', 2)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return d/'sim-tiny', r

def test_whole_run(full):
    rd, r = full
    t = log(rd)
    assert (t.status == 'done').all() and len(t) == 18, t
    names = sorted(p.name for p in (rd/'executed').iterdir())
    assert '07_regress_sub-07_ridge+gru_abl-cnn+transformer_L15.ipynb' in names and '11_noise_sub-07_gru_L15_A0+8+16+32+64+256.ipynb' in names
    assert (rd/'sub-07'/'metrics_cnn_L15.json').exists() and (rd/'sub-07'/'metrics_transformer_L15.json').exists()
    assert not (rd/'sub-01'/'metrics_cnn_L15.json').exists()
    assert 'ablation (CNN and Transformer, 15 layers, Table 2) runs on subject 7' in r.stdout
    assert (t.note == 'new').all() and r.stdout.count('(ran because: new)') == len(t)     # each node says why it ran
    nb = json.loads((rd/'executed'/'04_nsd_sub-07.ipynb').read_text())
    injected = [c for c in nb['cells'] if 'injected-parameters' in c['metadata'].get('tags', [])]
    assert injected and 'subject = 7' in ''.join(injected[0]['source']) and 'models' not in ''.join(injected[0]['source'])
    assert (rd/'report'/'report.html').exists() and 'report:' in r.stdout and 'Table 4' in r.stdout
    demo_note = 'not repeated here'                         # subject-independent demos run in the first subject's node only
    assert demo_note not in (rd/'executed'/'10_metrics_sub-01.ipynb').read_text() and demo_note in (rd/'executed'/'10_metrics_sub-07.ipynb').read_text()
    assert not list((rd/'executed').glob('.*input.ipynb'))
    assert '[IPKernelApp]' not in r.stdout + r.stderr       # kernels' own log lines (e.g. the TCP warning) stay out of the user's terminal
    m = pd.read_csv(rd/'sub-07'/'metrics.csv')
    assert {(2, 'ridge'), (2, 'gru'), (2, 'clip_only'), (2, 'gru+clip-gru'), (1, 'true')} <= set(zip(m.stage, m.model))   # with "Ours (CLIP)" on the first subject
    assert 'gru+clip-gru' not in set(pd.read_csv(rd/'sub-01'/'metrics.csv').model)
    assert 'Ours (CLIP) - Ours (L15, stage 2)' in set(pd.read_csv(rd/'sub-07'/'metric_tests.csv').comparison)          # tested against Ours, pairwise
    assert sorted(m[m.model == 'gru'].noise.unique()) == [0, 8, 16, 32, 64, 256]
    assert len(list((rd/'sub-01'/'images'/'stage2_gru_L15').glob('*.png'))) == 12

def test_whole_run_keeps_its_findings(full):
    "The report's findings: one row per claim, each computed where the run has what it needs (tiny: 15 layers only), with provenance."
    import re
    from neuro_decode.findings import CLAIMS, VERDICTS
    rd, r = full
    res = rd/'report'/'results'
    f = pd.read_csv(res/'findings.csv', dtype={'subjects': str})
    assert list(f.key) == [c.key for c in CLAIMS] and set(f.verdict) <= set(VERDICTS)
    needs31 = {'t4_ssim31', 't4_sem31', 'layers_ssim', 'layers_sem'}
    assert set(f[f.verdict != 'not computed'].key) == {c.key for c in CLAIMS} - needs31, f[['key', 'note']]
    assert f.set_index('key').loc['t5_ssim', 'subjects'] == '1, 7' and f.set_index('key').loc['t2_cnn', 'subjects'] == '7'
    done = f[f.verdict != 'not computed']
    assert ((done.lo <= done.ours) & (done.ours <= done.hi)).all() and done.ours.notna().all()
    assert 'Findings (report/results/findings.csv):' in r.stdout
    run = json.loads((res/'run.json').read_text())
    assert run['run'] == 'sim-tiny' and re.fullmatch('[0-9a-f]{40}', run['commit'] or '')      # named relatively; the code's commit
    assert len(run['nodes']) == 17 and run['nodes']['04_nsd_sub-07']['parameters']['subject'] == 7
    assert {'stage1.csv', 'metrics.csv', 'tests.csv', 'table4.csv', 'reconstructions.jpg', 'noise.png'} <= {p.name for p in res.iterdir()}
    assert 'run' not in pd.read_csv(res/'metrics.csv').columns                                  # no machine paths in kept tables

def test_second_run_skips_everything(full):
    rd, _ = full
    t0 = time.time()
    r = run('--runs-dir', rd.parent)
    assert r.returncode == 0, r.stderr[-2000:]
    assert (log(rd).status == 'up to date').all() and time.time() - t0 < 60

def test_retrained_bundled_model_reruns_the_steps_that_read_it(full, tmp_path):
    """A bundled model changed (here the observer's record, as notebook 94 rewrites it): the nodes whose outputs depend on it
    (metrics, and the noise analysis, which scores its images) run again, saying why; the images they read are kept."""
    import neuro_decode.config as C
    rd = full[0]
    models = tmp_path/'models'; shutil.copytree(C.bundled_dir(), models)
    rec = json.loads((models/'object_net_small.json').read_text()); rec['note'] = 'retrained'
    (models/'object_net_small.json').write_text(json.dumps(rec)); C.write_manifest(models)
    images = sorted((rd/'sub-01'/'images'/'stage2_gru_L15').glob('*.png'))
    r = run('--runs-dir', rd.parent, '--steps', 'metrics', 'noise', env={**os.environ, 'NEURO_DECODE_BUNDLED': str(models)})
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    t = log(rd).set_index('node')
    noise, why = '11_noise_sub-07_gru_L15_A0+8+16+32+64+256', 'bundled models changed: object_net_small'
    assert set(t.index) == {'10_metrics_sub-07', '10_metrics_sub-01', noise} and set(t.status) == {'done'}, t[['status', 'note']]
    assert t.loc[noise, 'note'] == why and t.loc['10_metrics_sub-01', 'note'] == why     # (subject 7's metrics read the new noise files: inputs changed)
    assert sorted((rd/'sub-01'/'images'/'stage2_gru_L15').glob('*.png')) == images and (rd/'sub-01'/'metrics.csv').exists()
    r = run('--runs-dir', rd.parent, '--steps', 'metrics', 'noise')          # the bundled models as they were: back again
    assert r.returncode == 0 and log(rd).set_index('node').loc[noise, 'note'] == why

def test_damaged_file_is_recomputed_with_everything_downstream(full, tmp_path):
    # in place (files record their dataset's absolute path, so a copied run folder would be another run)
    rd = full[0]
    p = rd/'sub-07'/'prep.h5'; p.write_bytes(p.read_bytes()[:len(p.read_bytes())//2])
    r = run('--runs-dir', rd.parent, *UP_TO_STAGE1)
    assert r.returncode == 0, r.stderr[-2000:]
    t = log(rd).set_index('node')
    assert t.loc['04_nsd_sub-07', 'status'] == 'done' and 'prep.h5 damaged or changed (checksum)' in t.loc['04_nsd_sub-07', 'note']
    assert t.loc['06_features_L15', 'status'] == 'done' and t.loc['07_regress_sub-07_ridge+gru_abl-cnn+transformer_L15', 'status'] == 'done'
    assert t.loc['04_nsd_sub-01', 'status'] == 'up to date' and t.loc['03_glm_sub-07', 'status'] == 'up to date'

def test_killed_local_run_resumes_on_dask_to_the_same_numbers(stage1_reference, tmp_path):
    """SIGKILL a local run (and its workers) in the middle of a step; the rerun, on a real Dask LocalCluster of two workers,
    completes with the uninterrupted local run's numbers: a resumed run loses nothing, and Dask gives the process pool's numbers."""
    p = subprocess.Popen([EXE, 'run', '--preset', 'tiny', '--quiet', '--subjects', '7', '--runs-dir', str(tmp_path), *UP_TO_STAGE1,
                          '--workers', '2'], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    stamps = tmp_path/'sim-tiny'/'.stamps'
    deadline = time.time() + 600
    while time.time() < deadline and not (stamps.exists() and any(stamps.glob('04_nsd_*.json'))): time.sleep(1)
    time.sleep(3)                                                       # now inside the features or the stage-1 step
    os.killpg(p.pid, signal.SIGKILL); p.wait()
    assert not list(stamps.glob('07_regress_*.json'))                   # killed before stage 1 finished
    r = run('--runs-dir', tmp_path, *UP_TO_STAGE1, '--subjects', 7, '--backend', 'dask', '--workers', 2)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    t = log(tmp_path/'sim-tiny')
    assert len(t) == 5 and (t.status != 'failed').all() and (t.status == 'done').any() and 'on Dask LocalCluster' in r.stdout, t
    assert stage1_scores(tmp_path/'sim-tiny') == stage1_reference

def test_expected_errors_are_one_line(tmp_path):
    r = run('--runs-dir', tmp_path, '--models', 'lstm')
    assert r.returncode == 2 and 'Traceback' not in r.stderr and "unknown models ['lstm']" in r.stderr
    r = run('--runs-dir', tmp_path, '--steps', 'simulate', 'glm', 'prep', '--sessions', '1-3')
    assert r.returncode == 2 and 'Traceback' not in r.stderr and "the 'tiny' world has 1 session(s)" in r.stderr
    assert not any(tmp_path.iterdir())                                  # checked before anything was written

def test_report_opens_in_headless_chromium(full, tmp_path):
    "The run's report is one self-contained page: every table is there when Chromium renders it from disk, offline."
    chromium = shutil.which('chromium') or shutil.which('chromium-browser')
    if not chromium: pytest.skip('chromium not installed (Debian package chromium; .ci/run installs it)')
    rep = full[0]/'report'/'report.html'
    flags = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
             '--disable-component-update', '--disable-sync', f'--user-data-dir={tmp_path/"profile"}']
    dom = subprocess.run([chromium, *flags, '--dump-dom', rep.as_uri()], capture_output=True, text=True, timeout=120, check=True).stdout
    for t in ('findings', 'table2', 'table3', 'table4', 'table5', 'table6', 'tests'): assert f'id="{t}"' in dom, t
    assert dom.index('id="findings"') < dom.index('alt="reconstructions"') < dom.index('id="table2"')   # findings and the grid first
    assert dom.index('<details id="tests">') > dom.index('id="table6"') and dom.count('<details class="group">') >= 5  # tests folded, by comparison
    assert str(full[0].resolve()) not in dom and 'Run folder sim-tiny' in dom
    assert dom.count('<img') >= 4 and 'data:image/png;base64' in dom and 'src="http' not in dom and 'href="http' not in dom
    shot = tmp_path/'report.png'
    subprocess.run([chromium, *flags, '--window-size=1280,2400', f'--screenshot={shot}', rep.as_uri()], capture_output=True, timeout=120, check=True)
    assert shot.stat().st_size > 20_000
