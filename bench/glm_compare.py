"""Our GLM against GLMsingle on the test worlds of `bench/glm_worlds.py`, in one process, one thread each.

    python bench/glm_compare.py                      # every world, the ablation group of ours and (when installed) GLMsingle
    python bench/glm_compare.py --voxels 500 --worlds 0 2 --configs ours
    python bench/glm_compare.py --group compare --out bench/results/glm_compare.csv   # the table chapter 03 shows

Each file in bench/results/ comes from one `--group` (its name) and its seeds; chapter 03 lists the commands.

GLMsingle is not on PyPI and is never vendored: install it with
`pip install git+https://github.com/cvnlab/GLMsingle.git` to add its rows (without it, only ours run).
Accuracy is the median over responsive voxels of the Pearson r between estimated and true single-trial betas,
per type; HRF recovery is the median r between the HRF each method chose for a voxel and the voxel's true HRF.
GLMsingle's design is per volume, so where onsets are off the volume grid it gets them rounded to the nearest
volume, as its users do without resampling their data.
"""
import os
for _v in ('OMP_NUM_THREADS', 'MKL_NUM_THREADS', 'OPENBLAS_NUM_THREADS'): os.environ[_v] = '1'
import argparse, contextlib, io, re, sys, time, tempfile, warnings
from pathlib import Path
import numpy as np, pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from glm_worlds import WORLDS, FINE, STIM_S, GLMSINGLE_TSV, make_world

def _shape_r(chosen:np.ndarray, dt:float, truth:np.ndarray)->np.ndarray:
    "Per voxel: r between its chosen HRF (rows sampled every `dt` s) and its true HRF (rows on the `FINE` grid)."
    t = np.arange(truth.shape[1])*FINE
    c = np.stack([np.interp(t, np.arange(chosen.shape[1])*dt, h, right=0.) for h in chosen])
    c, tr = c - c.mean(1, keepdims=True), truth - truth.mean(1, keepdims=True)
    return (c*tr).sum(1)/np.sqrt((c**2).sum(1)*(tr**2).sum(1)).clip(min=1e-12)

def score(betas:dict, world:dict, hrf_rows:np.ndarray|None, dt:float)->tuple:
    "Median beta recovery per type over responsive voxels, and median HRF-shape r; and each voxel's r per type."
    from neuro_decode.simulate import beta_recovery
    act = world['active']
    r = {k: beta_recovery(b[:, act], world['trial_betas'][:, act]) for k, b in betas.items()}
    out = {k: float(np.median(v)) for k, v in r.items()}
    if hrf_rows is not None:
        out['hrf_r'] = float(np.median(_shape_r(hrf_rows[act], dt, world['hrfs'][world['hrf_of_voxel'][act]])))
    return out, r

def paired_difference(a:np.ndarray, b:np.ndarray, n_boot:int=2000, seed:int=0)->tuple:
    "Median of `a` minus median of `b` (per-voxel values of two methods) and its 95% bootstrap interval over voxels."
    rng = np.random.default_rng(seed)
    i = rng.integers(0, len(a), (n_boot, len(a)))
    d = np.median(a[i], 1) - np.median(b[i], 1)
    return float(np.median(a) - np.median(b)), float(np.quantile(d, .025)), float(np.quantile(d, .975))

def paired_types(a:dict, b:dict, seed:int=0)->dict:
    "`paired_difference` of types B, C and D (per-voxel r of two methods): columns B, B_lo, B_hi, C, ..."
    return {c: x for k in 'BCD' for c, x in zip((k, f'{k}_lo', f'{k}_hi'), paired_difference(a[k], b[k], seed=seed))}

def run_ours(world:dict, lib:np.ndarray|None=None, **kw)->dict:
    "Our GLM (`neuro_decode.glm.fit_glm`) on one world, on the CPU, one thread."
    import torch
    from neuro_decode.glm import SessionDesign, fit_glm
    from neuro_decode.hrf import glm_library, HRF_DT
    torch.set_num_threads(1)
    d = SessionDesign(world['tr'], [world['n_vols']]*world['n_runs'], [o/world['tr'] for o in world['onsets_s']],
                      world['conditions'])
    lib = glm_library() if lib is None else lib
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        res = fit_glm(world['Y'], d, lib=lib, device='cpu', progress=False, **kw)
    s = time.perf_counter() - t
    sc, r = score(res.betas, world, lib[res.hrf_index], HRF_DT)
    pool = dict(pool=int(res.pool.sum()), pool_responsive=int((res.pool & world['active']).sum()))
    return dict(seconds=s, n_pcs=res.n_pcs, **pool, **sc), r

def glmsingle_available()->bool:
    try:
        import glmsingle  # noqa: F401
        return True
    except ImportError: return False

def run_glmsingle(world:dict)->dict:
    "GLMsingle (default options, types A-D, no files written) on one world, one thread."
    from glmsingle.glmsingle import GLM_single
    tr, n = world['tr'], world['n_vols']
    conds = np.unique(world['conditions'])
    col = {c: i for i, c in enumerate(conds)}
    design, c = [], 0
    for on in world['onsets_s']:
        D = np.zeros((n, len(conds)))
        for o, cond in zip(on, world['conditions'][c:c+len(on)]): D[int(round(o/tr)), col[cond]] = 1
        design.append(D); c += len(on)
    Y = world['Y']
    data = [np.ascontiguousarray(Y[r*n:(r + 1)*n].T) for r in range(world['n_runs'])]   # (V, T) per run
    opt = dict(wantlibrary=1, wantglmdenoise=1, wantfracridge=1, wantfileoutputs=[0, 0, 0, 0],
               wantmemoryoutputs=[1, 1, 1, 1])
    here = os.getcwd()
    with tempfile.TemporaryDirectory() as out, warnings.catch_warnings():
        warnings.simplefilter('ignore')
        os.chdir(out)                   # figuredir=None: no figures, but it makes an empty folder in the working directory
        try:
            t = time.perf_counter()
            with contextlib.redirect_stdout(io.StringIO()) as log:   # its diagnostics, hundreds of lines per fit
                res = GLM_single(opt).fit(design, data, STIM_S, tr, outputdir=os.path.join(out, 'out'), figuredir=None)
            s = time.perf_counter() - t
        finally: os.chdir(here)
    from neuro_decode.glm import tail_threshold
    found = re.search(r'Setting brain R2 threshold to ([0-9.eE+-]+)', log.getvalue())
    tails = dict(tail_threshold=float(found.group(1)) if found else np.nan,        # its own, in % R2
                 tail_threshold_ours=tail_threshold(np.asarray(res['typea']['onoffR2']).ravel()))   # ours on its on/off R2
    key = {'B': 'typeb', 'C': 'typec', 'D': 'typed'}      # its type A is the on/off model: one beta per voxel, not per trial
    betas = {k: np.asarray(res[v]['betasmd']).reshape(Y.shape[1], -1).T for k, v in key.items()}
    lib = np.loadtxt(GLMSINGLE_TSV, ndmin=2).T if GLMSINGLE_TSV.exists() else None
    hidx = np.asarray(res['typed']['HRFindex']).reshape(-1).astype(int)
    pcs = res['typed'].get('pcnum', np.nan)
    sc, r = score(betas, world, None if lib is None else lib[hidx], 0.1)
    return dict(seconds=s, n_pcs=int(np.asarray(pcs).reshape(-1)[0]) if np.size(pcs) else -1, **tails, **sc), r

def gamma_family(lo:float, hi:float, n:int=20, shape:float=8., undershoot:float=0.)->np.ndarray:
    "`n` double-gamma HRFs peaking `lo`..`hi` s: `neuro_decode.hrf.hrf_library` with those settings."
    from neuro_decode.hrf import hrf_library
    return hrf_library(n, shape=shape, undershoot=undershoot, modes=(lo, hi))

CANDIDATES = {   # libraries tried as the default on worlds of seeds 0-7 (`--seed 0 --group candidates`): peaks, gamma shape, undershoot
    'peaks 2.5-7.5 s, shape 8': dict(lo=2.5, hi=7.5),
    'peaks 2.5-7.5 s, shape 8, undershoot 0.1': dict(lo=2.5, hi=7.5, undershoot=0.1),
    'peaks 2.5-7.5 s, shape 6, undershoot 1/6': dict(lo=2.5, hi=7.5, shape=6., undershoot=1/6),
    'peaks 3-7 s, shape 8, undershoot 0.1': dict(lo=3., hi=7., undershoot=0.1),
    'peaks 2.5-8 s, shape 8, undershoot 0.1, 30 HRFs': dict(lo=2.5, hi=8., undershoot=0.1, n=30),
    'peaks 3-6.5 s, shape 8, undershoot 0.1': dict(lo=3., hi=6.5, undershoot=0.1),
    'peaks 3-6 s, shape 8': dict(lo=3., hi=6.),
    'peaks 3-6 s, shape 8, undershoot 0.1': dict(lo=3., hi=6., undershoot=0.1),
    'peaks 3-6 s, shape 8, undershoot 0.2': dict(lo=3., hi=6., undershoot=0.2),
    'peaks 3-6 s, shape 6, undershoot 0.1': dict(lo=3., hi=6., shape=6., undershoot=0.1),
    'peaks 3-6 s, shape 10': dict(lo=3., hi=6., shape=10.),
    'peaks 3-6 s, shape 10, undershoot 0.1': dict(lo=3., hi=6., shape=10., undershoot=0.1),
    'peaks 3-6 s, shape 12 (the default)': dict(lo=3., hi=6., shape=12.),
    'peaks 2.5-6 s, shape 10': dict(lo=2.5, hi=6., shape=10.),
    'peaks 3-5.5 s, shape 10': dict(lo=3., hi=5.5, shape=10.),
    'peaks 3.5-6 s, shape 8, undershoot 0.1': dict(lo=3.5, hi=6., undershoot=0.1),
}

POOL_TAIL = "ours, GLMsingle's noise pool (on/off R2 below the tail threshold)"
PC_TAIL = "ours, GLMsingle's voxels choosing the components (on/off R2 above the tail threshold)"
GROUPS = {   # the variants each results file holds: bench/results/glm_<group>.csv
    'compare': 'the default, its previous library and GLMsingle\'s library in our code, beside GLMsingle',
    'ablation': 'those and each departure from GLMsingle switched off in turn, then all together',
    'rules': 'the default and GLMsingle\'s noise-pool and component-voxel rules (chosen on seeds 0-7)',
    'candidates': 'the default, its previous library, GLMsingle\'s library and the candidate libraries (seeds 0-7)',
    'drift': 'the default drift rule (GLMsingle\'s: one polynomial degree per 2 minutes of run) against one per 1 and per 4 minutes',
}

def configs(group:str='ablation')->dict:
    "Our GLM's variants in one of `GROUPS`, name -> keyword arguments of `run_ours` (only that group's libraries are made)."
    from neuro_decode.hrf import read_hrf_library
    if group not in GROUPS: raise ValueError(f"group {group!r}: expected one of {list(GROUPS)}")
    rules = {POOL_TAIL: dict(pool_rule='tail'), PC_TAIL: dict(pc_rule='tail')}
    if group == 'rules': return {'ours': {}, **rules}
    if group == 'drift': return {'ours': {}, 'ours, one drift degree per minute of run': dict(drift_period=60.),
                                 'ours, one drift degree per 4 minutes of run': dict(drift_period=240.)}
    out = {'ours': {}, 'ours, previous library (peaks 4-7 s, shape 8)': dict(lib=gamma_family(4., 7.))}
    if GLMSINGLE_TSV.exists(): out["ours + GLMsingle's library"] = dict(lib=read_hrf_library(GLMSINGLE_TSV))
    if group == 'ablation':
        out.update({'ours without step 4 (HRF not chosen again after denoising)': dict(rechoose=False),
                    "ours, HRFs chosen on the single-trial design (GLMsingle's way)": dict(hrf_design='trials'), **rules,
                    "ours with all four of GLMsingle's rules (our library)": dict(rechoose=False, hrf_design='trials',
                                                                                 pool_rule='tail', pc_rule='tail')})
    if group == 'candidates': out.update({k: dict(lib=gamma_family(**v)) for k, v in CANDIDATES.items()})
    return out

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--voxels', type=int, default=2000)
    ap.add_argument('--seed', type=int, default=100, help='world i is drawn with seed + i (the library was chosen on seeds 0-7)')
    ap.add_argument('--worlds', type=int, nargs='*', help=f'indices into the {len(WORLDS)} worlds (all by default)')
    ap.add_argument('--group', default='ablation', choices=list(GROUPS),
                    help='which of our variants: ' + '; '.join(f'{k}: {v}' for k, v in GROUPS.items()))
    ap.add_argument('--configs', nargs='*', help="only these variants of the group (by name); 'none' for GLMsingle only")
    ap.add_argument('--no-glmsingle', action='store_true')
    ap.add_argument('--out', help='also write the table as CSV here')
    a = ap.parse_args(argv)
    cf = configs(a.group)
    if a.configs: cf = {k: v for k, v in cf.items() if k in a.configs}
    gs = glmsingle_available() and not a.no_glmsingle
    if not gs and not a.no_glmsingle:
        print('GLMsingle is not installed (pip install git+https://github.com/cvnlab/GLMsingle.git): ours only', file=sys.stderr)
    rows, diffs, variants = [], [], []
    for i in (a.worlds if a.worlds is not None else range(len(WORLDS))):
        w = WORLDS[i]
        try: world = make_world(w, a.voxels, a.seed + i)
        except FileNotFoundError as e:
            print(f'skipping world {w.name!r}: {e}', file=sys.stderr); continue
        T = world['Y'].shape[0]
        per_voxel = {}
        for name, kw in cf.items():
            row, per_voxel[name] = run_ours(world, **kw)
            rows.append(dict(world=w.name, method=name, **row))
            print(f'  {w.name} | {name}: {rows[-1]["seconds"]:.1f} s', file=sys.stderr, flush=True)
        if gs:
            row, per_voxel['GLMsingle'] = run_glmsingle(world)
            rows.append(dict(world=w.name, method='GLMsingle', **row))
            print(f'  {w.name} | GLMsingle: {rows[-1]["seconds"]:.1f} s', file=sys.stderr, flush=True)
            if 'ours' in per_voxel:                     # ours minus GLMsingle, paired over the same voxels
                d = dict(world=w.name, **paired_types(per_voxel['ours'], per_voxel['GLMsingle'], seed=i))
                d['C_minus_B'] = float(np.median(per_voxel['ours']['C']) - np.median(per_voxel['ours']['B']))
                diffs.append(d)
        for name in per_voxel:                          # each variant against our default, paired over the same voxels
            if name in ('ours', 'GLMsingle') or 'ours' not in per_voxel: continue
            variants.append(dict(world=w.name, variant=name, **paired_types(per_voxel['ours'], per_voxel[name], seed=i)))
        for r in rows[-len(cf) - gs:]: r.update(voxels=a.voxels, responsive=int(world['active'].sum()), volumes=T, trials=len(world['conditions']), seed=a.seed + i)
    df = pd.DataFrame(rows)
    cols = ['world', 'method', 'seconds', 'A', 'B', 'C', 'D', 'hrf_r', 'n_pcs', 'pool', 'pool_responsive', 'tail_threshold',
            'tail_threshold_ours', 'voxels', 'responsive', 'volumes', 'trials', 'seed']
    df = df[[c for c in cols if c in df]]
    print(df.round(3).to_markdown(index=False))
    dd = pd.DataFrame(diffs)
    if len(dd):
        print('\nours minus GLMsingle, median r over responsive voxels, [95% bootstrap interval over voxels]:')
        print(dd.round(3).to_markdown(index=False))
    dv = pd.DataFrame(variants)
    if len(dv):
        print('\nours minus each variant, median r over responsive voxels, [95% bootstrap interval over voxels]:')
        print(dv.round(3).to_markdown(index=False))
    if a.out:
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        df.round(4).to_csv(a.out, index=False)
        for tab, suffix in ((dd, '_diff'), (dv, '_variants')):
            f = Path(a.out).with_name(Path(a.out).stem + suffix + '.csv')
            if len(tab): tab.round(4).to_csv(f, index=False)
            else: f.unlink(missing_ok=True)                 # no stale table from an earlier run beside this one
    return df, dd

if __name__ == '__main__': main()
