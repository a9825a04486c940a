"""neuro_decode benchmarks: `make bench`. Prints tables; later issues add rows (ridge, GRU).

Measures wall time and peak memory (VmHWM, the RSS high-water mark of a fresh process per case; ru_maxrss
would inherit the parent's), on this machine. A case's code may reset `t` after its setup so that only the
work itself is timed, and may set `EXTRA` (a dict) to report more (accuracy, counts).
"""
import json, subprocess, sys, tempfile
from pathlib import Path
import pandas as pd

SIMULATE = "from neuro_decode.simulate import simulate_nsd; simulate_nsd(D+'/sim', '{preset}', progress=False)"
GLM_SUBJECT = "from neuro_decode.glm import glm_subject; glm_subject(D+'/sim', 1, progress=False)"
# the size: voxels x 6 runs x 300 volumes; the toy session is made first, then only the fit is timed
GLM_FIT = """import numpy as np
from neuro_decode.glm import toy_session, fit_glm, beta_recovery
Y, d, tr = toy_session({n}, n_runs=6, n_vols=300, seed=0)
t = time.perf_counter()
res = fit_glm(Y, d, progress=False, device='{device}')
act = tr['active']
EXTRA = {{t_: round(float(np.median(beta_recovery(res.betas[t_][:, act], tr['trial_betas'][:, act]))), 3) for t_ in 'ABCD'}}
EXTRA.update(hrf_exact=round(float(np.mean(res.hrf_index[act] == tr['hrf_index'][act])), 3), n_pcs=res.n_pcs, trials=d.n_trials)"""
GLM_LOOP = """import numpy as np
from neuro_decode.glm import toy_session, fit_voxel_loop
Y, d, tr = toy_session({n}, n_runs=6, n_vols=300, seed=0)
t = time.perf_counter()
fit_voxel_loop(Y, d, np.arange({k}))"""
# ridge at CLIP-vision scale: one fit for all 257 x 768 outputs vs brain-diffuser's loop of one Ridge per token
RIDGE_DATA = """import numpy as np
from sklearn.linear_model import Ridge
from neuro_decode.regress import RidgeRegressor
rng = np.random.default_rng(0)
n, p, m, tok, dim = 750, 8000, 200, 257, 768
X, Xte = rng.normal(size=(n, p)).astype(np.float32), rng.normal(size=(m, p)).astype(np.float32)
W = rng.normal(size=(p, 64)).astype(np.float32)/np.sqrt(p)
Y = (np.tanh(X @ W) @ rng.normal(size=(64, tok*dim)).astype(np.float32)/8).reshape(n, tok, dim)
t = time.perf_counter()"""
RIDGE_OURS = RIDGE_DATA + """
P = RidgeRegressor(6e4, device='{device}').fit_predict(X, Y, Xte).reshape(m, tok, dim)
np.save(D + '/ours.npy', P[:, :{k}])"""
RIDGE_SKLEARN = RIDGE_DATA + """
P = np.stack([Ridge(alpha=6e4).fit(X, Y[:, j]).predict(Xte) for j in range({k})], 1)
EXTRA = dict(max_rel_diff=float(np.abs(P - np.load(D + '/ours.npy')).max()/np.abs(P).max()))"""
GRU_SPEED = """import torch
from neuro_decode.regress import train_network, TrainConfig
X = torch.randn(640, 15724).numpy(); Y = torch.randn(640, 13344).numpy()
t = time.perf_counter()
train_network('gru', X, Y, TrainConfig(max_epochs=2, refit=False), device='{device}', progress=False)
EXTRA = dict(samples_per_s=round(2*576/(time.perf_counter() - t), 1))"""
PREPARE = "from neuro_decode.nsd import prepare_subject; prepare_subject(D+'/sim', 1, D+'/run-{fmt}', fmt='{fmt}', progress=False)"

def measure(code:str, d:str)->tuple:
    "Run `code` in a fresh Python with `D` = folder `d`; return (seconds, peak RSS in MB)."
    src = (f"import time, json; D={d!r}\nt=time.perf_counter()\n{code}\n"
           "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1]\n"
           "print(json.dumps([time.perf_counter()-t, int(hwm)/1024, globals().get('EXTRA', {})]))")
    out = subprocess.run([sys.executable, '-c', src], capture_output=True, text=True, check=True).stdout
    return tuple(json.loads(out.strip().splitlines()[-1]))

def main(only:list|None=None):
    "Run every benchmark, or only the groups named in `only` ('simulate', 'glm', 'ridge', 'gru')."
    import torch
    want = lambda g: not only or g in only
    rows, glm_acc = [], []
    def add(name, code, d, **kw):
        s, mb, extra = measure(code, d)
        rows.append(dict(benchmark=name, seconds=round(s, 2), peak_MB=round(mb), **kw))
        print(f'  {name}: {s:.1f} s', file=sys.stderr)
        return s, extra
    if want('simulate'):
        with tempfile.TemporaryDirectory() as d:
            add('simulate tiny (2 subjects)', SIMULATE.format(preset='tiny'), d)
    if want('simulate') or want('glm'):
        with tempfile.TemporaryDirectory() as d:     # the default world, simulated once, is then read back
            add('simulate default (4 subjects)', SIMULATE.format(preset='default'), d)
            add('GLM types A-D, subject 1 of default (3 sessions, files in and out)', GLM_SUBJECT, d)
            for fmt in ('nii.gz', 'hdf5'):
                add(f'prepare subject 1, default, betas as {fmt}', PREPARE.format(fmt=fmt), d)
    devices = ['cpu'] + (['cuda'] if torch.cuda.is_available() else [])
    for n in ((2000, 8000) if want('glm') else ()):
        with tempfile.TemporaryDirectory() as d:
            for dev in devices:
                s, extra = add(f'GLM types A-D, {n} voxels x 6 runs x 300 vols, {dev}', GLM_FIT.format(n=n, device=dev), d)
                rows[-1]['voxels_per_s'] = round(n/s)
                glm_acc.append(dict(voxels=n, device=dev, **extra))
            k = 20
            s, _ = add(f'per-voxel loop, type B only, {k} of {n} voxels', GLM_LOOP.format(n=n, k=k), d)
            rows[-1].update(voxels_per_s=round(k/s, 1), extrapolated_s=round(s*n/k))
    if want('ridge'):
        with tempfile.TemporaryDirectory() as d:
            k = 16
            s_ours, _ = add('ridge fit+predict, 750 images x 8000 voxels -> 257 x 768 outputs, all tokens, ours', RIDGE_OURS.format(device='cpu', k=k), d)
            s_sk, extra = add(f'ridge per token with scikit-learn (brain-diffuser), {k} of 257 tokens', RIDGE_SKLEARN.format(k=k), d)
            rows[-1].update(extrapolated_s=round(s_sk*257/k), speedup=round(s_sk*257/k/s_ours, 1), max_rel_diff=extra['max_rel_diff'])
    if want('gru'):
        with tempfile.TemporaryDirectory() as d:
            for dev in devices:
                s, extra = add(f'GRU training, 15,724 voxels -> 13,344 latents (12.4M parameters), {dev}', GRU_SPEED.format(device=dev), d)
                rows[-1]['samples_per_s'] = extra['samples_per_s']
    print(pd.DataFrame(rows).to_markdown(index=False))
    if glm_acc:
        print('\nGLM accuracy on the toy sessions (median r with the true single-trial betas over responsive voxels):\n')
        print(pd.DataFrame(glm_acc).to_markdown(index=False))

if __name__ == '__main__': main(sys.argv[1:] or None)
