"""The small VD on held-out scenes, scored as maintenance notebook 93 scores the model it trains, with today's code.

    python bench/vd_heldout.py --out bench/results/vd_heldout.csv                 # the bundled small VD
    python bench/vd_heldout.py --vd /tmp/vd16/models/vd_small --names 'latent-16 trial' --out bench/results/vd_heldout.csv
                                                  # and another small VD folder (the committed table: the trial of
                                                  # bench/results/vd_small_latent16.json, made by the command it records)

A training record keeps the scores of the code and observer of its day; this script scores a VD now: on the
100 held-out open-world scenes of notebook 93 (seed 4681, rendered at 425 px; no bundled model was trained on
them), with their true CLIP embeddings, five rows made by chapter 09's `heldout_images` (the VAE alone, samples
from pure noise, the true-latent 31-layer stage-1 image, img2img from it and from a grey start) and scored by
`heldout_quality`: SSIM, PixCorr, the bundled eval CLIP's 2-way identification and how often the bundled
observer (chapter 10a) names the main object (the simulator's labels; compare with a grey image, row (f) of
bench/instrument_range.py, rather than with 1/16: an empty image is named as some class too). With `--vd`, each named
folder (diffusers' layout, the bundled CLIP encoders) is scored after the bundled model, on the same scenes.
"""
import os
for _v in ('OMP_NUM_THREADS', 'MKL_NUM_THREADS', 'OPENBLAS_NUM_THREADS'): os.environ.setdefault(_v, '1')
import argparse
from pathlib import Path
import numpy as np, pandas as pd

def score_vd(vd,                  # a loaded VD (chapter 09's `VD`)
             held:np.ndarray,     # (n, H, W, 3) uint8 held-out scenes
             captions:list,       # their captions, five each
             labels:np.ndarray,   # (n,) their main objects' classes
            )->pd.DataFrame:      # columns row, metric, value
    "One VD's held-out table, long format."
    from neuro_decode.stage2 import heldout_images, heldout_quality
    q = heldout_quality(heldout_images(vd, held, captions), held, labels)
    return pd.DataFrame([dict(row=r, metric=m, value=v) for r, d in q.items() for m, v in d.items()])

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--vd', nargs='*', default=[], help='other small VD folders to score the same way')
    ap.add_argument('--names', nargs='*', default=None, help="labels of those folders in the table (default: each folder's name)")
    ap.add_argument('--n', type=int, default=100, help='held-out scenes')
    ap.add_argument('--seed', type=int, default=4681, help="the held-out scenes' seed (notebook 93's)")
    ap.add_argument('--out', help='write the table here as CSV')
    a = ap.parse_args(argv)
    from neuro_decode.bundled import scene_pairs, training_scenes
    from neuro_decode.objects import main_classes
    from neuro_decode.stage2 import vd_model, load_vd
    from neuro_decode.config import ConfigError
    folders = [Path(f) for f in a.vd]
    names = a.names if a.names is not None else [f.name for f in folders]
    if len(names) != len(folders): raise ConfigError(f"{len(names)} names for {len(folders)} VD folders; expected one each")
    for f in folders:
        if not (f/'image_unet').is_dir(): raise ConfigError(f"{f}: not a small VD folder (no image_unet/); expected diffusers' layout as data/models/vd_small")
    held, caps = scene_pairs(a.n, a.seed, size=425, world='open')
    labels = main_classes(training_scenes(a.n, a.seed, 'open')[0])
    tabs = []
    for name, f in [('bundled', None)] + list(zip(names, folders)):
        vd = vd_model(None) if f is None else load_vd(f, 'cpu', 'bundled', {'kind': 'trial'})
        t = score_vd(vd, held, caps, labels).assign(vd=name, latent=int(vd.unet.config.sample_size), n=a.n, seed=a.seed)
        print(t.pivot(index='row', columns='metric', values='value').round(3).to_markdown(), f"\n({name}, {t.latent.iloc[0]}x{t.latent.iloc[0]} latent)\n", flush=True)
        tabs.append(t)
    out = pd.concat(tabs, ignore_index=True)
    if a.out: out.to_csv(a.out, index=False)
    return out

if __name__ == '__main__': main()
