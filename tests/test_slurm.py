"""SLURM (chapter 16) as a lab uses it, on a real one-node SLURM (`tools/slurm_local.sh`, started by .ci/run): the tiny
preset through `--backend slurm` and through `--array`, each giving the local backend's numbers (conftest's
`stage1_reference`), a worker job cancelled with scancel in the middle of a run and resumed, and a dry run that submits
nothing. Tests that need SLURM skip, with the reason, where there is none."""
import json, os, re, subprocess, sys, time
from pathlib import Path
import pandas as pd, pytest
from conftest import EXE, UP_TO_STAGE1, stage1_scores
from neuro_decode.slurm import slurm_available

needs_slurm = pytest.mark.skipif(not slurm_available(), reason='no SLURM here (sbatch and a controller): .ci/run starts one with tools/slurm_local.sh')
# the one-node test cluster has 2 cores and 8 GB: one core and 2 GB a job, and no GPU for the GPU steps
SMALL = ['--slurm', 'cores=1', '--slurm', 'memory=2GB', '--slurm', 'gpu.gpus=0', '--slurm', 'gpu.memory=2GB', '--slurm', 'walltime=20']

def nd(*args, **kw):
    return subprocess.run([EXE, 'run', '--preset', 'tiny', '--quiet', '--subjects', '7', *map(str, args)], capture_output=True, text=True, **kw)

def queue()->list: return [l for l in subprocess.run(['squeue', '-h', '-o', '%i %j %T'], capture_output=True, text=True).stdout.split('\n') if l.strip()]

def queued(ids)->bool: return any(l.split()[0].split('_')[0] in set(ids) for l in queue())

@pytest.fixture
def submitted(tmp_path):
    "The ids of the jobs an --array test submits (its jobs.tsv); whatever is left of them is cancelled at the end, pass or fail."
    tsv = tmp_path/'sim-tiny'/'slurm'/'jobs.tsv'
    ids = lambda: [l.split('\t')[1] for l in tsv.read_text().splitlines()] if tsv.exists() else []
    yield ids
    if ids(): subprocess.run(['scancel', *ids()], capture_output=True)

def wait_for(pred, timeout:float, what:str):
    t0 = time.time()
    while not pred():
        assert time.time() - t0 < timeout, f"waited {timeout} s for {what}"
        time.sleep(1)

def test_array_request_round_trips(tmp_path):
    "An --array task's command line makes the same request as the run that wrote it (same parameters: the same stamps)."
    from neuro_decode.run import cli_parser, run_command, _request, notebooks_dir
    from neuro_decode.config import get_config
    argv = ['run', '--preset', 'tiny', '--runs-dir', str(tmp_path), '--subjects', '7', '1', '--models', 'ridge', '--noise', '0', '16.5', '0.1234567',
            '--noise-subjects', '1', '--no-captions', '--no-stand-ins', '--float16-features', '--sessions', '1']
    a = cli_parser().parse_args(argv)
    cfg = get_config(a.preset, runs_dir=a.runs_dir)
    req = _request(a, cfg)
    b = cli_parser().parse_args(run_command(cfg, req, notebooks_dir())[1:])
    assert _request(b, cfg) == req and b.runs_dir == str(cfg.runs_dir) and b.data == str(cfg.data_root)
    assert _request(cli_parser().parse_args(['run', '--noise', '0', '8.0']), cfg).noise == (0, 8)   # 8.0 typed is 8: the same stamps

@needs_slurm
def test_dry_run_submits_and_writes_nothing(tmp_path):
    before = {l.split()[0] for l in queue()}
    r = nd('--runs-dir', tmp_path, '--backend', 'slurm', '--dry-run', *SMALL)
    assert r.returncode == 0, r.stderr
    assert 'gpu: features, stage1, images1, stage2, noise, metrics' in r.stdout and '#SBATCH --cpus-per-task=1' in r.stdout
    r = nd('--runs-dir', tmp_path, '--backend', 'slurm', '--array', '--dry-run', *SMALL)
    assert r.returncode == 0, r.stderr
    assert '--dependency=afterok:$id' in r.stdout and '#SBATCH --array=0-0' in r.stdout and '--only-subject' in r.stdout
    assert {l.split()[0] for l in queue()} <= before and not any(tmp_path.iterdir())

@needs_slurm
def test_refused_resources_end_the_run_before_it_starts(tmp_path):
    r = nd('--runs-dir', tmp_path, '--backend', 'slurm', *SMALL, '--slurm', 'partition=no-such-partition')
    assert r.returncode == 2 and 'Traceback' not in r.stderr and 'SLURM refuses the jobs of steps' in r.stderr and 'partition' in r.stderr, r.stderr
    assert not any(tmp_path.iterdir())

@pytest.fixture(scope='module')
def slurm_run(tmp_path_factory):
    """--backend slurm, subject 7 up to stage 1, with the worker job that runs the features cancelled (scancel) while it runs
    them, then run again: (run folder, the first run's log, the second run's output)."""
    if not slurm_available(): pytest.skip('no SLURM here')
    tmp_path = tmp_path_factory.mktemp('slurm')
    rd = tmp_path/'sim-tiny'
    p = subprocess.Popen([EXE, 'run', '--preset', 'tiny', '--quiet', '--subjects', '7', '--runs-dir', str(tmp_path), *UP_TO_STAGE1,
                          '--backend', 'slurm', *SMALL], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(lambda: (rd/'executed'/'06_features_L15.ipynb').exists() or p.poll() is not None, 600, 'the features node to start')
    time.sleep(2)
    jobs = [l.split()[0] for l in queue() if 'nd-sim-tiny-gpu' in l and 'RUNNING' in l]
    assert jobs and p.poll() is None, queue()
    subprocess.run(['scancel', *jobs], check=True)
    out, err = p.communicate(timeout=300)
    assert p.returncode == 2, out[-2000:] + err[-2000:]
    first = pd.read_csv(rd/'run_log.csv').set_index('node')
    r = nd('--runs-dir', tmp_path, *UP_TO_STAGE1, '--backend', 'slurm', *SMALL)
    wait_for(lambda: not any('nd-sim-t' in l for l in queue()), 120, 'the workers to leave the queue')
    return rd, jobs, first, r

@needs_slurm
def test_backend_slurm_with_a_cancelled_job_resumes_to_the_local_numbers(slurm_run, stage1_reference):
    """The run with a cancelled job reports that node failed, naming the job, how it ended and its log; the next run resumes
    it, and stage 1 gives the local backend's numbers."""
    rd, jobs, t, r = slurm_run
    assert t.loc['04_nsd_sub-07', 'status'] == 'done' and t.loc['06_features_L15', 'status'] == 'failed'
    note = t.loc['06_features_L15', 'note']
    assert f'SLURM job {jobs[0]} was cancelled' in note and 'runs again on the next run' in note, note
    assert re.search(r'log \S+/slurm/nd-sim-tiny-gpu-\d+\.err', note), note
    assert t.filter(like='07_regress', axis=0).status.eq('skipped').all()
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    t = pd.read_csv(rd/'run_log.csv')
    assert list(t.status) == ['up to date']*3 + ['done']*2, t
    assert 'on SLURM job' in r.stdout and 'distributed.' not in r.stdout + r.stderr       # one line per node, no Dask log
    assert stage1_scores(rd) == stage1_reference

@needs_slurm
def test_array_run_gives_the_local_numbers(slurm_run, stage1_reference, request):
    """--array --submit, on the run above with its stage 1 removed: sbatch jobs, each after the one before (afterok): the
    simulation, an array task per subject (GLM and preparation), the features, an array task per subject (stage 1). The
    tasks find the first three steps done and make stage 1 again with the local backend's numbers; a local run of the same
    request then finds every node up to date (the tasks made the same nodes, with the same parameters)."""
    rd = slurm_run[0]; tmp_path = rd.parent
    for p in [*rd.glob('.stamps/07_regress_*.json'), *rd.glob('sub-07/metrics_*_L15.json')]: p.unlink()
    r = nd('--runs-dir', tmp_path, *UP_TO_STAGE1, '--backend', 'slurm', '--array', '--submit', *SMALL)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    ids = dict(l.split('\t') for l in (rd/'slurm'/'jobs.tsv').read_text().splitlines())
    request.addfinalizer(lambda: subprocess.run(['scancel', *ids.values()], capture_output=True))     # whatever is left, pass or fail
    assert list(ids) == ['simulate', 'subjects-1', 'features', 'subjects-2'], ids
    again = nd('--runs-dir', tmp_path, *UP_TO_STAGE1, '--backend', 'slurm', '--array', '--submit', *SMALL)
    assert again.returncode == 2 and 'still queued or running' in again.stderr, again.stderr    # no second set of jobs on the same nodes
    wait_for(lambda: not queued(ids.values()), 900, 'the array jobs')
    st = nd('--runs-dir', tmp_path, *UP_TO_STAGE1, '--backend', 'slurm', '--array', '--status')
    assert st.returncode == 0 and st.stdout.count('COMPLETED') == 4, st.stdout + st.stderr
    assert 'features latents=15: done' not in (rd/'slurm'/f"nd-sim-tiny-features-{ids['features']}.out").read_text()
    assert 'on SLURM job ' + ids['subjects-2'] + '_0' in (rd/'slurm'/f"nd-sim-tiny-subjects-2-{ids['subjects-2']}_0.out").read_text()
    assert stage1_scores(rd) == stage1_reference
    r = nd('--runs-dir', tmp_path, *UP_TO_STAGE1, '--workers', 2)
    assert r.returncode == 0 and (pd.read_csv(rd/'run_log.csv').status == 'up to date').all(), r.stdout + r.stderr

@needs_slurm
def test_a_failed_array_job_is_reported_and_the_jobs_after_it_leave_the_queue(tmp_path, submitted):
    "A job that fails (here its prelude exits 3) is named by --status with its id, how it ended and its log; the jobs after it are cancelled, not left pending."
    rd = tmp_path/'sim-tiny'
    r = nd('--runs-dir', tmp_path, *UP_TO_STAGE1, '--backend', 'slurm', '--array', '--submit', *SMALL, '--slurm', 'prelude=["exit 3"]')
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    ids = dict(l.split('\t') for l in (rd/'slurm'/'jobs.tsv').read_text().splitlines())
    wait_for(lambda: not queued(ids.values()), 300, 'the jobs to leave the queue')
    st = nd('--runs-dir', tmp_path, *UP_TO_STAGE1, '--backend', 'slurm', '--array', '--status')
    assert st.returncode == 2 and 'did not complete' in st.stderr, st.stdout + st.stderr
    assert f"SLURM job {ids['simulate']} failed; reason NonZeroExitCode; log {rd/'slurm'}/nd-sim-tiny-simulate-{ids['simulate']}.out" in st.stdout, st.stdout
    assert f"SLURM job {ids['subjects-2']}_0 was cancelled by SLURM: a job it waited for (afterok) did not complete" in st.stdout and not (rd/'.stamps').exists()

@needs_slurm
def test_a_failing_notebook_names_its_job_log_and_cell(tmp_path):
    "--backend slurm: a node whose notebook raises is reported with its SLURM job id, the job's log and the executed notebook's failing cell."
    import shutil
    from neuro_decode.run import notebooks_dir
    nbs = tmp_path/'nbs'; shutil.copytree(notebooks_dir(), nbs)
    nb = json.loads((nbs/'02_simulate.ipynb').read_text())
    at = next(i for i, c in enumerate(nb['cells']) if 'parameters' in c['metadata'].get('tags', [])) + 1
    nb['cells'].insert(at, dict(cell_type='code', execution_count=None, id='fails', metadata={}, outputs=[], source="raise RuntimeError('a step that fails')"))
    (nbs/'02_simulate.ipynb').write_text(json.dumps(nb))
    r = nd('--runs-dir', tmp_path/'runs', '--steps', 'simulate', '--nbs', nbs, '--backend', 'slurm', *SMALL)
    assert r.returncode == 2, r.stdout[-2000:] + r.stderr[-2000:]
    note = pd.read_csv(tmp_path/'runs'/'sim-tiny'/'run_log.csv').note.iloc[0]
    m = re.search(r"RuntimeError: a step that fails \(SLURM job (\d+), log (\S+/slurm/nd-sim-tiny-cpu-\1\.err)\) \(see (\S+/executed/02_simulate\.ipynb), cell (\d+) \(In \[\d+\]\)\)", note)
    assert m and Path(m[2]).exists(), note
    assert 'a step that fails' in ''.join(json.loads(Path(m[3]).read_text())['cells'][int(m[4]) - 1]['source'])
