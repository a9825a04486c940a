"""neuro_decode benchmarks: `make bench`. Prints tables; later issues add rows (ridge, GRU).

Measures wall time and peak memory (VmHWM, the RSS high-water mark of a fresh process per case; ru_maxrss
would inherit the parent's), on this machine. A case's code may reset `t` after its setup so that only the
work itself is timed, and may set `EXTRA` (a dict) to report more (accuracy, counts).

The GLM's accuracy against GLMsingle on test worlds unlike our simulator is a separate script,
`bench/glm_compare.py` (worlds in `bench/glm_worlds.py`, results in `bench/results/`).
"""
import json, os, subprocess, sys, tempfile
from pathlib import Path
import pandas as pd

SIMULATE = "from neuro_decode.simulate import simulate_nsd; simulate_nsd(D+'/sim', '{preset}', progress=False)"
GLM_SUBJECT = "from neuro_decode.nsd import glm_subject; glm_subject(D+'/sim', 1, out_root=D+'/sim', into_dataset=True, progress=False)"
# one synthetic session (`toy_session`) of {n} voxels x {runs} runs x {vols} volumes: made first, then only the fit is
# timed (fit_s); 6 x 300 is the size GLMsingle is usually quoted at, 12 x 226 is one NSD session (TR 1.333 s both)
GLM_FIT = """import numpy as np, torch
from neuro_decode.glm import fit_glm
from neuro_decode.simulate import toy_session, beta_recovery
Y, d, tr = toy_session({n}, n_runs={runs}, n_vols={vols}, tr={tr}, seed=0)
if '{device}' == 'cuda': torch.cuda.reset_peak_memory_stats()
t_fit = time.perf_counter()          # not `t`: that is the whole process's clock (`measure`)
res = fit_glm(Y, d, progress=False, device='{device}')
if '{device}' == 'cuda': torch.cuda.synchronize()
s_fit = time.perf_counter() - t_fit
act = tr['active']
EXTRA = {{t_: round(float(np.median(beta_recovery(res.betas[t_][:, act], tr['trial_betas'][:, act]))), 3) for t_ in 'ABCD'}}
EXTRA.update(fit_s=round(s_fit, 2), hrf_exact=round(float(np.mean(res.hrf_index[act] == tr['hrf_index'][act])), 3),
             n_pcs=res.n_pcs, trials=d.n_trials, volumes=d.n_vols)
if '{device}' == 'cuda': EXTRA['peak_gpu_GB'] = round(torch.cuda.max_memory_allocated()/2**30, 2)"""
GLM_LOOP = """import numpy as np
from neuro_decode.glm import fit_voxel_loop
from neuro_decode.simulate import toy_session
Y, d, tr = toy_session({n}, n_runs=6, n_vols=300, seed=0)
t_fit = time.perf_counter()
fit_voxel_loop(Y, d, np.arange({k}))
EXTRA = dict(fit_s=round(time.perf_counter() - t_fit, 2))"""
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
RIDGE_HIMALAYA = RIDGE_DATA + """
from himalaya.backend import set_backend
set_backend('numpy')
from himalaya.{mod} import {cls}
m = {cls}(alpha=6e4, fit_intercept=True).fit(X.astype(np.float64), Y.reshape(n, -1)[:, :{q}].astype(np.float64))
P = np.asarray(m.predict(Xte.astype(np.float64)))
ref = np.load(D + '/ours.npy').reshape(len(Xte), -1)[:, :{q}]
EXTRA = dict(max_rel_diff=float(np.abs(P - ref).max()/np.abs(ref).max()))"""
# the machine's matrix-multiply rate, one thread
MATMUL = """import torch
A = torch.randn(4000, 4000, dtype=torch.{dt}); B = torch.randn(4000, 4000, dtype=torch.{dt}); A @ B
t = time.perf_counter()
for _ in range(3): A @ B
EXTRA = dict(gflops=round(3*2*4000**3/(time.perf_counter() - t)/1e9, 1))"""
# NSD subject 1 at full size: 8,859 training + 982 test images x 15,724 voxels; targets streamed from an HDF5 features file
NSD_MAKE = """import numpy as np, h5py
rng = np.random.default_rng(0)
n, m, p, q = 8859, 982, 15724, {q}
W = rng.normal(size=(p, 32)).astype(np.float32)/np.sqrt(p)
X = rng.normal(size=(n, p)).astype(np.float32); Xte = rng.normal(size=(m, p)).astype(np.float32)
np.save(D + '/X.npy', X); np.save(D + '/Xte.npy', Xte)
B = rng.normal(size=(32, q)).astype(np.float32)
with h5py.File(D + '/targets.h5', 'w') as f:
    d = f.create_dataset('latents', (n, q), np.float32, chunks=(64, 4096)); f['ids'] = np.arange(n)
    for i in range(0, n, 512): d[i:i+512] = np.tanh(X[i:i+512] @ W) @ B + rng.normal(size=(min(512, n - i), q)).astype(np.float32)"""
NSD_RIDGE = """import numpy as np
from neuro_decode.regress import RidgeRegressor, ridge_smoother, ridge_stream
from neuro_decode.features import FeatureReader
X, Xte = np.load(D + '/X.npy'), np.load(D + '/Xte.npy')
r = FeatureReader(D + '/targets.h5')
class Blocks:
    n_outputs = r.n_outputs
    def block(self, cols): return r.read(np.arange(len(X)), cols)
t = time.perf_counter()
P = RidgeRegressor(5e4, device='cpu').fit_predict(X, Blocks(), Xte)
np.save(D + '/P.npy', P[:, :{k}])
n, p, m, q = *X.shape, len(Xte), P.shape[1]
flops = 2*n*n*p + n**3/3 + 2*m*n*p + 2*m*n*q
EXTRA = dict(gflops=round(flops/(time.perf_counter() - t)/1e9, 1))"""
NSD_SKLEARN = """import numpy as np
from sklearn.linear_model import Ridge
from neuro_decode.features import FeatureReader
X, Xte = np.load(D + '/X.npy'), np.load(D + '/Xte.npy')
Y = FeatureReader(D + '/targets.h5').read(np.arange(len(X)), slice(0, {k}))
t = time.perf_counter()
P = Ridge(alpha=5e4).fit(X.astype(np.float64), Y.astype(np.float64)).predict(Xte.astype(np.float64))
ours = np.load(D + '/P.npy')
EXTRA = dict(max_rel_diff=float(np.abs(P - ours).max()/np.abs(P).max()))"""
NSD_CV = """import numpy as np
from neuro_decode.regress import RidgeRegressor
from neuro_decode.features import FeatureReader
X = np.load(D + '/X.npy')
r = FeatureReader(D + '/targets.h5')
class Blocks:
    n_outputs = r.n_outputs
    def block(self, cols): return r.read(np.arange(len(X)), cols)
t = time.perf_counter()
best, score = RidgeRegressor(alphas=(1e3, 1e4, 3e4, 5e4, 1e5, 3e5, 1e6, 1e7), device='cpu').cross_validate(X, Blocks())
EXTRA = dict(best_alpha=best)"""
# stage 2 with the bundled small VD: images per second on the CPU, the sampler of 09 (50 DDIM steps, 37 run)
STAGE2 = """import numpy as np
from neuro_decode.stage2 import vd_model, stage2_sample, image_seeds
vd = vd_model(device='{device}')
rng = np.random.default_rng(0)
n = {n}
init = (rng.uniform(size=(n, 64, 64, 3))*255).astype(np.uint8)
t_, v_ = (rng.normal(size=(n, 77, vd.dim))*0.1).astype(np.float32), (rng.normal(size=(n, 257, vd.dim))*0.1).astype(np.float32)
t = time.perf_counter()
stage2_sample(vd, init, t_, v_, image_seeds(range(n)), batch={batch})
EXTRA = dict(images_per_s=round(n/(time.perf_counter() - t), 2))"""
# what tests/test_stage2.py asserts (>= 0.8), and how it varies with the scenes drawn: eval-CLIP 2-way identification of
# samples from true embeddings (from noise), on 200 held-out scenes and on five sets of 40
STAGE2_IDENT = """import numpy as np
from neuro_decode.bundled import scene_pairs
from neuro_decode.config import bundled_path
from neuro_decode.features import text_embeddings, vision_embeddings, load_eval_clip, eval_image_embeddings
from neuro_decode.stats import two_way_identification
from neuro_decode.stage2 import vd_model, stage2_sample, image_seeds
vd, ec = vd_model(device='cpu'), load_eval_clip(bundled_path('eval_clip_small.safetensors'), 'cpu')
def ident(n, seed):
    held, caps = scene_pairs(n, seed, size=425)
    te, ve = text_embeddings(vd.encoders, caps, progress=False), vision_embeddings(vd.encoders, held, progress=False)
    ims = stage2_sample(vd, np.full((n, 64, 64, 3), 127, np.uint8), te, ve, image_seeds(range(n)), strength=1.0)
    return round(float(two_way_identification(eval_image_embeddings(ec, ims), eval_image_embeddings(ec, held), np.float64).mean()), 3)
sets = [ident(40, s) for s in (13579, 5679, 1, 2, 3)]
EXTRA = dict(ident_200_seed13579=ident(200, 13579), ident_sets_of_40=sets, mean_of_sets=round(float(np.mean(sets)), 3))"""
# the real VD's image UNet (published architecture, random weights): one fp16 stage-2 image batch on a GPU
STAGE2_REAL_UNET = """import torch
from diffusers import UNet2DConditionModel
from neuro_decode.stage2 import patch_dual_transformer, set_mixing, ddim_scheduler, start_schedule
patch_dual_transformer()
cfg = dict(sample_size=64, in_channels=4, out_channels=4, block_out_channels=(320, 640, 1280, 1280), layers_per_block=2,
           down_block_types=('CrossAttnDownBlock2D',)*3 + ('DownBlock2D',), up_block_types=('UpBlock2D',) + ('CrossAttnUpBlock2D',)*3,
           cross_attention_dim=768, attention_head_dim=8, dual_cross_attention=True)
unet = UNet2DConditionModel(**cfg).half().cuda().eval(); set_mixing(unet, 0.4)
b = {batch}
z, c = torch.randn(2*b, 4, 64, 64, device='cuda', dtype=torch.half), torch.randn(2*b, 77 + 257, 768, device='cuda', dtype=torch.half)
_, run = start_schedule(ddim_scheduler({{}}), 50, 0.75)
torch.cuda.synchronize(); torch.cuda.reset_peak_memory_stats()
t = time.perf_counter()
with torch.no_grad():
    for s in run: unet(z, s, encoder_hidden_states=c)
torch.cuda.synchronize()
EXTRA = dict(images_per_s=round(b/(time.perf_counter() - t), 2), peak_gpu_GB=round(torch.cuda.max_memory_allocated()/2**30, 1),
             unet_params_M=round(sum(p.numel() for p in unet.parameters())/1e6))"""
# all metrics for 982 image pairs with the bundled networks, and 982 x 982 identification as one matrix product
METRICS = """import numpy as np
from neuro_decode.metrics import load_metric_nets, GroundTruth, score_images
from neuro_decode.stats import two_way_identification
rng = np.random.default_rng(0)
n = 982
gt = rng.integers(0, 256, size=(n, 425, 425, 3), dtype=np.uint8)      # uint8 from the start: a float64 draw alone is 4 GB
rec = rng.integers(0, 256, size=(n, 64, 64, 3), dtype=np.uint8)
nets, _ = load_metric_nets(None, 'cpu')
t = time.perf_counter()
sc = score_images(rec, GroundTruth(gt, nets))
t1 = time.perf_counter() - t
F, G = rng.normal(size=(n, 768)), rng.normal(size=(n, 768))
t2 = time.perf_counter(); two_way_identification(F, G, np.float64); t2 = time.perf_counter() - t2
t3 = time.perf_counter(); sc['clip_small'].ci(1000); t3 = time.perf_counter() - t3
EXTRA = dict(metrics=len(sc), scoring_s=round(t1, 1), identification_982_s=round(t2, 3), bootstrap_1000_s=round(t3, 1))"""
# the whole `make run` on the default preset, from scratch, with its per-step times
RUN = """import subprocess, sys, pandas as pd
from pathlib import Path
exe = str(Path(sys.executable).parent/'neuro-decode')
r = subprocess.run([exe, 'run', '--preset', '{preset}', '--runs-dir', D, '--quiet'], capture_output=True, text=True)
if r.returncode: raise SystemExit(r.stderr[-3000:])
log = pd.read_csv(Path(D)/'sim-{preset}'/'run_log.csv')
EXTRA = dict(nodes=len(log), node_seconds=round(log.seconds.sum()))"""
# features streamed from the stimulus file: peak memory against the number of images
FEATURES = """import numpy as np
from neuro_decode.nsd import write_stimuli
from neuro_decode.features import write_features
rng = np.random.default_rng(0)
write_stimuli(D + '/stim{n}.hdf5', ((rng.uniform(size=(425, 425, 3))*255).astype(np.uint8) for _ in range({n})), {n})
t = time.perf_counter()
write_features(D + '/feat{n}', np.arange({n}), [['a red ball on a grassy field.']]*{n}, D + '/stim{n}.hdf5', (15, 31), progress=False)"""
GRU_SPEED = """import torch
from neuro_decode.regress import train_network, TrainConfig
X = torch.randn(640, 15724).numpy(); Y = torch.randn(640, 13344).numpy()
t = time.perf_counter()
train_network('gru', X, Y, TrainConfig(max_epochs=2, refit=False), device='{device}', progress=False)
EXTRA = dict(samples_per_s=round(2*576/(time.perf_counter() - t), 1))"""
PREPARE = "from neuro_decode.nsd import prepare_subject; prepare_subject(D+'/sim', 1, D+'/run-{fmt}', fmt='{fmt}', progress=False)"
# an NSD-shaped subject 1 (81 x 104 x 83 volume, 15,724 nsdgeneral voxels, 750 trials a session, the 73,000-image stimulus file
# written sparsely, int16 betas in .nii.gz and .hdf5): written, then two sessions prepared and their features extracted
NSD_SHAPED_WRITE = "from neuro_decode.simulate import write_nsd_shaped, NSDShape; write_nsd_shaped(D+'/nsd', NSDShape(sessions=2), progress=False)"
NSD_SHAPED_PREP = """from neuro_decode.nsd import prepare_subject, load_prep
p = load_prep(prepare_subject(D+'/nsd', 1, D+'/run-{fmt}', [1, 2], fmt='{fmt}', progress=False))
EXTRA = dict(train=len(p.train_ids), test=len(p.test_ids), voxels=p.train_betas.shape[1], trials=int(p.attrs['n_trials']))"""
NSD_SHAPED_FEATURES = """import h5py, numpy as np
from pathlib import Path
from neuro_decode.features import extract_features
files = extract_features(D+'/run-hdf5', (15, 31), progress=False, dtype='{dtype}')
EXTRA = dict(images=0, values=0, bytes=0)
for n, f in files.items():
    with h5py.File(f) as h:
        d = h['latents' if 'latents' in h else 'embeddings']; EXTRA['images'] = d.shape[0]; EXTRA['values'] += int(np.prod(d.shape))
    EXTRA['bytes'] += Path(f).stat().st_size
import shutil; shutil.rmtree(D+'/run-hdf5/features')"""
# the values per image of the real models' features (VDVAE ImageNet-64: 13,344 and 91,168 latents; VD's CLIP ViT-L/14: 77 x 768 text
# and 257 x 768 vision tokens), and the images of a full NSD run of subjects 1, 2, 5 and 7 (1,000 shared + 4 x 9,000)
NSD_VALUES_PER_IMAGE = 13_344 + 91_168 + 77*768 + 257*768
NSD_RUN_IMAGES = 1_000 + 4*9_000

def measure(code:str, d:str)->tuple:
    "Run `code` in a fresh Python with `D` = folder `d`; return (seconds, peak RSS in MB)."
    src = (f"import time, json; D={d!r}\nt=time.perf_counter()\n{code}\n"
           "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1]\n"
           "print(json.dumps([time.perf_counter()-t, int(hwm)/1024, globals().get('EXTRA', {})]))")
    out = subprocess.run([sys.executable, '-c', src], capture_output=True, text=True, check=True).stdout
    return tuple(json.loads(out.strip().splitlines()[-1]))

GROUPS = ('simulate', 'glm', 'glm-nsd', 'ridge', 'himalaya', 'nsd', 'nsd-cv', 'nsd-shaped', 'features', 'stage2', 'metrics', 'run', 'gru')

def main(only:list|None=None, out:str|None=None):
    "Run every benchmark, or only the groups named in `only` (`GROUPS`); with `out`, also write the table there as CSV."
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
                s, extra = add(f'GLM types A-D, {n} voxels x 6 runs x 300 vols, {dev}',
                               GLM_FIT.format(n=n, device=dev, runs=6, vols=300, tr=4/3), d)
                rows[-1].update(extra, voxels_per_s=round(n/extra['fit_s']))
                glm_acc.append(dict(voxels=n, device=dev, **extra))
            k = 20
            s, extra = add(f'per-voxel loop, type B only, {k} of {n} voxels', GLM_LOOP.format(n=n, k=k), d)
            rows[-1].update(extra, voxels_per_s=round(k/extra['fit_s'], 1), extrapolated_s=round(extra['fit_s']*n/k))
    if want('glm-nsd'):                                 # the whole session: 150,000 voxels on a GPU, a slice of them on the CPU
        with tempfile.TemporaryDirectory() as d:
            for dev, n in [('cpu', 10000)] + ([('cuda', 150000)] if torch.cuda.is_available() else []):
                s, extra = add(f'GLM types A-D, one NSD-sized session (12 runs x 226 vols, TR 1.333 s), {n:,} voxels, {dev}',
                               GLM_FIT.format(n=n, device=dev, runs=12, vols=226, tr=4/3), d)
                rows[-1].update(extra, voxels_per_s=round(n/extra['fit_s']))
                if dev == 'cpu': rows[-1]['extrapolated_150k_s'] = round(extra['fit_s']*150000/n)
    if want('ridge'):
        with tempfile.TemporaryDirectory() as d:
            k = 16
            s_ours, _ = add('ridge fit+predict, 750 images x 8000 voxels -> 257 x 768 outputs, all tokens, ours', RIDGE_OURS.format(device='cpu', k=k), d)
            s_sk, extra = add(f'ridge per token with scikit-learn (brain-diffuser), {k} of 257 tokens', RIDGE_SKLEARN.format(k=k), d)
            rows[-1].update(extrapolated_s=round(s_sk*257/k), speedup=round(s_sk*257/k/s_ours, 1), max_rel_diff=extra['max_rel_diff'])
    if want('ridge'):
        with tempfile.TemporaryDirectory() as d:
            for dt in ('float64', 'float32'):
                s, extra = add(f'matrix multiply 4000 x 4000, {dt}, one thread (the machine\'s rate)', MATMUL.format(dt=dt), d)
                rows[-1]['gflops'] = extra['gflops']
    if want('himalaya'):
        with tempfile.TemporaryDirectory() as d:
            s_ours, _ = add('ridge fit+predict, 750 x 8000 -> 257 x 768, ours', RIDGE_OURS.format(device='cpu', k=257), d)
            for mod, cls in (('kernel_ridge', 'KernelRidge'), ('ridge', 'Ridge')):
                s, extra = add(f'himalaya {cls} (numpy backend), same problem, all outputs', RIDGE_HIMALAYA.format(mod=mod, cls=cls, q=257*768), d)
                rows[-1].update(max_rel_diff=extra['max_rel_diff'], ours_speedup=round(s/s_ours, 1))
    if want('nsd') or want('nsd-cv'):                   # nsd-cv: the VDVAE plain fit and the cross-validation only
        for q, what in ((91168, 'VDVAE 31 layers'), (197376, 'CLIP-vision 257 x 768'))[:1 if not want('nsd') else 2]:
            with tempfile.TemporaryDirectory(dir=os.environ.get('BENCH_TMP')) as d:
                measure(NSD_MAKE.format(q=q), d)                          # data on disk, made in its own process
                s, extra = add(f'ridge at NSD subject-1 size: 8,859 x 15,724 -> {q:,} ({what}), fit + predict every output, targets streamed from HDF5',
                               NSD_RIDGE.format(k=2000), d)
                rows[-1]['gflops'] = extra['gflops']
                if q == 91168 and want('nsd'):
                    s_sk, extra = add('scikit-learn Ridge, same data, first 2,000 outputs', NSD_SKLEARN.format(k=2000), d)
                    rows[-1]['max_rel_diff'] = extra['max_rel_diff']
                if q == 91168:
                    s_cv, extra = add('ridge alpha by exact 5-fold cross-validation, 8 alphas, 4,096 scored outputs, one eigendecomposition', NSD_CV, d)
                    rows[-1].update(best_alpha=extra['best_alpha'], plain_fits=round(s_cv/s, 2))
    if want('nsd-shaped'):
        with tempfile.TemporaryDirectory(dir=os.environ.get('BENCH_TMP')) as d:
            add('write an NSD-shaped subject 1: 2 sessions x 750 trials, 81 x 104 x 83, betas .nii.gz + .hdf5, sparse 73,000-image stimuli',
                NSD_SHAPED_WRITE, d)
            rows[-1]['dataset_GB'] = round(sum(p.stat().st_blocks*512 for p in Path(d).rglob('*') if p.is_file())/1e9, 2)
            for fmt in ('hdf5', 'nii.gz'):
                s, extra = add(f'prepare 2 NSD-shaped sessions (1,500 trials x 15,724 voxels), betas as {fmt}', NSD_SHAPED_PREP.format(fmt=fmt), d)
                rows[-1].update(extra)
            for dtype in ('float32', 'float16'):
                s, extra = add(f'features of those images (bundled VDVAE L15 + L31, small CLIP text + vision), {dtype}',
                               NSD_SHAPED_FEATURES.format(dtype=dtype), d)
                per_value = extra['bytes']/extra['values']                  # bytes a stored value takes, HDF5 overhead included
                rows[-1].update(images=extra['images'], bytes_per_value=round(per_value, 3),
                                full_nsd_run_features_GB=round(per_value*NSD_VALUES_PER_IMAGE*NSD_RUN_IMAGES/1e9, 1))
    if want('features'):
        with tempfile.TemporaryDirectory() as d:
            for n in (128, 1024):
                add(f'features (VDVAE L15 + L31, CLIP text + vision, bundled) of {n} stimuli streamed from nsd_stimuli.hdf5', FEATURES.format(n=n), d)
    if want('stage2'):
        with tempfile.TemporaryDirectory() as d:
            s, extra = add('stage 2, bundled small VD, 32 images, 50 DDIM steps (37 run), guidance 7.5, cpu', STAGE2.format(device='cpu', n=32, batch=16), d)
            rows[-1]['images_per_s'] = extra['images_per_s']
            s, extra = add('stage 2, bundled small VD: eval-CLIP identification from noise, held-out scenes', STAGE2_IDENT, d)
            rows[-1].update(extra)
            if torch.cuda.is_available():
                s, extra = add('stage 2, real-size VD dual UNet (random weights), fp16, batch 8, 37 steps, cuda', STAGE2_REAL_UNET.format(batch=8), d)
                rows[-1].update(extra)
    if want('metrics'):
        with tempfile.TemporaryDirectory() as d:
            s, extra = add('metrics for 982 pairs (PixCorr, 2 SSIMs, bundled CLIP and VDVAE stand-ins), cpu', METRICS, d)
            rows[-1].update(extra)
    if want('run'):
        with tempfile.TemporaryDirectory() as d:
            s, extra = add('make run: the whole default pipeline from scratch (4 subjects, report), 2 workers', RUN.format(preset='default'), d)
            rows[-1].update(extra)
            steps = pd.read_csv(Path(d)/'sim-default'/'run_log.csv')
        print(steps.groupby('step', sort=False).agg(nodes=('node', 'size'), seconds=('seconds', 'sum'), longest=('seconds', 'max')).to_markdown())
    if want('gru'):
        with tempfile.TemporaryDirectory() as d:
            for dev in devices:
                s, extra = add(f'GRU training, 15,724 voxels -> 13,344 latents (12.4M parameters), {dev}', GRU_SPEED.format(device=dev), d)
                rows[-1]['samples_per_s'] = extra['samples_per_s']
    print(pd.DataFrame(rows).to_markdown(index=False))
    if out:
        import datetime, platform
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        pd.DataFrame(rows).assign(date=datetime.date.today().isoformat(), machine=f'{platform.machine()}, {os.cpu_count()} cores',
                                  threads=os.environ.get('OMP_NUM_THREADS', '')).to_csv(out, index=False)
    if glm_acc:
        print('\nGLM accuracy on the toy sessions (median r with the true single-trial betas over responsive voxels):\n')
        print(pd.DataFrame(glm_acc).to_markdown(index=False))

if __name__ == '__main__':
    import argparse
    ap = argparse.ArgumentParser(description='Time the library (`make bench BENCH="glm glm-nsd --out FILE"`).')
    ap.add_argument('groups', nargs='*', metavar='GROUP', help=f'any of {", ".join(GROUPS)} (default: all)')
    ap.add_argument('--out', help='also write the table as CSV here (e.g. bench/results/glm_speed.csv)')
    a = ap.parse_args()
    if set(a.groups) - set(GROUPS): ap.error(f'unknown group(s) {sorted(set(a.groups) - set(GROUPS))}: expected any of {", ".join(GROUPS)}')
    main(a.groups or None, a.out)
