"""How far apart can the default world's images be? The instrument range of PixCorr, SSIM and the eval CLIP.

    python bench/instrument_range.py                       # runs/sim-default, subject 1, its 100 test images
    python bench/instrument_range.py --run runs/sim-tiny --n 8 --out /tmp/range.csv
    python bench/instrument_range.py --out bench/results/instrument_range.csv   # the table chapter 10 shows

Before asking whether the GRU beats ridge, ask whether the metrics could show it: on the test images of a
run (made by `make run`), score
  (a) the stage-1 images decoded from the *true* VDVAE latents, at 15 and 31 layers (the best stage 1 can do),
  (b) the same after stage 2 guided by the *true* CLIP embeddings (the best the pipeline can do),
  (c) stage 2 from the 15-layer image of (a) with noise of amplitude 256 added, true embeddings (stage 1 ruined),
  (d) another scene: each test image scored against the next one's ground truth (nothing in common but the world),
  and two images that bound what any 64 px reconstruction can score: (e) the true image itself at 64 px (the small
  VDVAE's and VD's resolution; no reconstruction of that size can be closer) and (f) a uniform grey image,
  and (g) the true image through the small VD's VAE alone (encoded and decoded, no diffusion): what VD's decoder
  can show of a scene, so what a stage-2 image can hope to keep,
each mean with its 95% bootstrap interval, and the differences (a) - (d) and (b) - (c) with their paired
intervals. A world is fit to show the paper's effects when (a) - (d) and (b) - (c) are each at least 0.15 in
SSIM and 0.3 in PixCorr, the eval CLIP identifies (b) 2-way at 0.85 or more, and, on the open world, the
observer of chapter 10a names the main object of (b) at 0.6 or more (chance 1/16; the labels are the
simulator's), the bounds of the default-world issue. The script prints the table and whether each bound is met, and writes the CSV.

Stage 2 runs with the run's own settings (chapter 09's defaults, the bundled small VD, one seed per image).
"""
import os
for _v in ('OMP_NUM_THREADS', 'MKL_NUM_THREADS', 'OPENBLAS_NUM_THREADS'): os.environ.setdefault(_v, '1')
import argparse, sys
from pathlib import Path
import numpy as np, pandas as pd

BOUNDS = {('a - d', 'ssim'): 0.15, ('a - d', 'pixcorr'): 0.3, ('b - c', 'ssim'): 0.15, ('b - c', 'pixcorr'): 0.3,
          ('b', 'clip_small'): 0.85, ('b', 'objects'): 0.6}
LEVEL_METRICS = ('pixcorr', 'ssim', 'clip_small', 'objects')

def true_embeddings(run_dir:Path, ids:np.ndarray, vd)->tuple: # (text (n, 77, D), vision (n, 257, D))
    "The run's true CLIP text and vision embeddings of the images `ids` (chapter 06's features), in VD's shape."
    from neuro_decode.features import FeatureReader
    from neuro_decode.layout import RunLayout
    from neuro_decode.stage2 import VD_TEXT_TOKENS, VD_IMAGE_TOKENS
    run = RunLayout(run_dir)
    text = FeatureReader(run.clip_features('text')).read(ids).reshape(len(ids), VD_TEXT_TOKENS, vd.dim)
    vision = FeatureReader(run.clip_features('vision')).read(ids).reshape(len(ids), VD_IMAGE_TOKENS, vd.dim)
    return text, vision

def conditions(run_dir:Path, subject:int, n:int|None=None, seed:int=0)->tuple: # ({name: images}, ground truth, labels or None)
    "The images of conditions (a)-(d) for a subject's first `n` test images, their ground truth and main-object labels."
    from neuro_decode.layout import RunLayout
    from neuro_decode.nsd import load_prep
    from neuro_decode.stage1 import read_images
    from neuro_decode.stage2 import vd_model, stage2_sample, add_image_noise, image_seeds, vae_round_trip, STAGE2_DEFAULTS
    sl = RunLayout(run_dir).subject(subject)
    ids = load_prep(sl.prep).test_ids[:n]
    gt = sl.stimuli(ids)
    vd = vd_model(None)
    text, vision = true_embeddings(run_dir, ids, vd)
    seeds = image_seeds(ids, seed)
    p = {k: v for k, v in STAGE2_DEFAULTS.items() if k != 'post'}
    s2 = lambda init: stage2_sample(vd, init, text, vision, seeds, **p, batch=32)
    out = {}
    for k in (15, 31):
        out[f'a: true latents L{k}'] = read_images(sl.images('true', k), ids)
        out[f'b: stage 2 of a L{k}, true embeddings'] = s2(out[f'a: true latents L{k}'])
    out['c: stage 2 of a L15 + noise 256, true embeddings'] = s2(add_image_noise(out['a: true latents L15'], 256, seeds))
    out['d: another scene'] = gt[np.roll(np.arange(len(gt)), 1)]
    out.update(ceilings(gt, out['a: true latents L15'].shape[1]))
    out["g: the true image through VD's VAE"] = vae_round_trip(vd, gt)
    from neuro_decode.metrics import subject_object_labels
    return out, gt, subject_object_labels(sl, ids)

def ceilings(gt:np.ndarray, size:int)->dict: # {'e: ...': images, 'f: ...': images}
    "The true images at the reconstructions' size (the best such an image can score) and a grey image of that size."
    from neuro_decode.metrics import resize
    small = resize(gt, size)
    return {f'e: the true image at {size} px': small, f'f: a grey image': np.full_like(small, 128)}

def range_table(images:dict, gt:np.ndarray, labels:np.ndarray|None=None, n_boot:int=1000, seed:int=0)->pd.DataFrame:
    "Each condition's PixCorr, SSIM, eval-CLIP identification and object accuracy (mean, 95% interval), and the bounded differences."
    from neuro_decode.metrics import GroundTruth, load_metric_nets, score_images, Score
    from neuro_decode.stats import paired_difference
    from neuro_decode.objects import load_object_net, object_accuracy
    nets, _ = load_metric_nets(None, stand_ins=True)
    truth = GroundTruth(gt, nets)
    scores = {c: score_images(im, truth) for c, im in images.items()}
    if labels is not None:
        obs = load_object_net()
        for c, im in images.items(): scores[c]['objects'] = Score('objects', 'main object named', True, object_accuracy(obs, im, labels), published=False)
    rows = []
    for c, sc in scores.items():
        for m in LEVEL_METRICS:
            if m in sc:
                lo, hi = sc[m].ci(n_boot, seed)
                rows.append(dict(kind='level', what=c, metric=m, value=sc[m].value(), lo=lo, hi=hi, n=len(sc[m].values)))
    pick = lambda prefix: next(c for c in scores if c.startswith(prefix))
    for name, a, b in (('a - d', 'a: true latents L15', 'd:'), ('a - d', 'a: true latents L31', 'd:'),
                       ('b - c', 'b: stage 2 of a L15', 'c:')):
        A, B = scores[pick(a)], scores[pick(b)]
        for m in ('pixcorr', 'ssim'):
            t = paired_difference(A[m].values - B[m].values, n_boot=n_boot, seed=seed)
            rows.append(dict(kind='difference', what=f'{name} ({pick(a).split(":")[1].strip()})', metric=m, value=t['diff'],
                             lo=t['lo'], hi=t['hi'], n=t['n'], bound=BOUNDS[(name, m)], met=bool(t['diff'] >= BOUNDS[(name, m)])))
    for m in ('clip_small', 'objects'):
        if m not in scores[pick('b: stage 2 of a L15')]: continue
        b15 = scores[pick('b: stage 2 of a L15')][m]
        lo, hi = b15.ci(n_boot, seed)
        rows.append(dict(kind='identification', what=pick('b: stage 2 of a L15'), metric=m, value=b15.value(), lo=lo, hi=hi,
                         n=len(b15.values), bound=BOUNDS[('b', m)], met=bool(b15.value() >= BOUNDS[('b', m)])))
    return pd.DataFrame(rows)

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--run', default='runs/sim-default', help='a run folder made by `make run` (default runs/sim-default)')
    ap.add_argument('--subject', type=int, default=1)
    ap.add_argument('--n', type=int, default=None, help='first N test images (default: all)')
    ap.add_argument('--out', help='write the table here as CSV')
    a = ap.parse_args(argv)
    from neuro_decode.config import ConfigError, write_csv
    run = Path(a.run)
    if not (run/f'sub-{a.subject:02d}'/'prep.h5').exists():
        sys.exit(f"{run}: no sub-{a.subject:02d}/prep.h5; expected a run folder made by `make run` (or neuro-decode run)")
    try: images, gt, lab = conditions(run, a.subject, a.n)
    except ConfigError as e: sys.exit(str(e))
    t = range_table(images, gt, lab)
    with pd.option_context('display.width', 200, 'display.max_colwidth', 60): print(t.round(3).to_string(index=False))
    b = t[t.bound.notna()] if 'bound' in t else t.iloc[:0]
    print(f"\nbounds met: {int(b.met.sum())} of {len(b)}")
    if a.out: print('wrote', write_csv(t.assign(run=run.name, subject=a.subject), a.out, index=False))
    return t

if __name__ == '__main__': main()
