"""How new are a simulated world's test images? Caption and scene novelty of the shared images against training.

    python bench/world_novelty.py                                  # the default world, runs/datasets/sim-default-seed0
    python bench/world_novelty.py --data runs/datasets/sim-tiny-seed0
    python bench/world_novelty.py --data runs/datasets/sim-default-seed0 runs/datasets/sim-default-grid-seed0 \\
        --out bench/results/world_novelty.csv                      # the table chapter 01a shows: both scene spaces

(`sim-default-grid-seed0` is the default preset in the grid scene space of chapter 01a, the default before
simulator version 6: `simulate_nsd('runs/datasets/sim-default-grid-seed0', 'default', world='grid')`.)

A test image whose captions also describe training images can be "decoded" semantically by recalling a
training caption: recovery is then lookup, not generalisation. For the shared images (every subject's test
set) against the images any subject trains on, it reports the share of test images
  - with none of their captions found verbatim among the training captions (caption novelty),
  - whose scene, described as the simulator names it (scene type and each object's class, colour, texture,
    size word and position word: `neuro_decode.scenes.scene_key`), is not among the training scenes (scene novelty),
and the share of all test captions that are new. The default-world issue asks for 95% or more.
The same shares are counted against the scenes each bundled model was trained on (`--models`, the
checkout's data/models by default): maintenance notebooks 90, 91, 93 and 94 record the seeds of their
training scenes, and `neuro_decode.bundled.training_sets` draws them again (the observer's 40,000 by
rendering them: about five minutes). The observer was trained on scenes alone, so it has no caption rows.
"""
import argparse, json, sys
from pathlib import Path
import numpy as np, pandas as pd

def _rows(r:dict, n_images:int, n_caps:int)->list:
    return [dict(measure='test images with no caption among the training captions', value=r['images'], n=n_images),
            dict(measure='test captions not among the training captions', value=r['captions'], n=n_caps),
            dict(measure='test scenes not among the training scenes', value=r['scenes'], n=n_images)]

def novelty(root:str|Path, models:dict|None=None)->pd.DataFrame:
    """Caption and scene novelty of a simulated NSD's shared images against every subject's other images
    (`against` = 'the run's training images') and against each bundled model's training set in `models`."""
    from neuro_decode.nsd import load_expdesign, load_captions
    from neuro_decode.scenes import load_scenes, scene_key, novelty as shares
    from dataclasses import asdict
    root = Path(root)
    ed = load_expdesign(root)
    test = np.unique(ed.sharedix)
    train = np.setdiff1d(np.unique(ed.subjectim[ed.subjectim >= 0]), test)
    caps_te, caps_tr = load_captions(root, test), load_captions(root, train)
    caps_te, caps_tr = [[c for c in row if c] for row in caps_te], [[c for c in row if c] for row in caps_tr]
    world, scenes = load_scenes(root)
    d = lambda ids: [asdict(scenes[i]) for i in ids]
    r = shares(d(test), caps_te, d(train), caps_tr)
    n_caps = sum(map(len, caps_te))
    rows = [dict(row, against="the run's training images", train_images=len(train)) for row in _rows(r, len(test), n_caps)]
    rows.append(dict(measure='distinct scenes among the test scenes', value=len({scene_key(s) for s in d(test)})/len(test),
                     n=len(test), against='itself', train_images=0))
    for name, (sc, caps) in (models or {}).items():
        if type(sc[0]) is not type(scenes[0]): continue           # another scene space: nothing to compare
        m = shares(d(test), caps_te, [asdict(x) for x in sc], caps or [[]])
        rows += [dict(row, against=name, train_images=len(sc)) for row in _rows(m, len(test), n_caps)
                 if caps is not None or row['measure'].startswith('test scenes')]
    return pd.DataFrame(rows).assign(scene_space=world.name)

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--data', nargs='+', default=['runs/datasets/sim-default-seed0'], help='simulated NSDs (default: the default world)')
    ap.add_argument('--models', help="bundled models' folder (default: the checkout's data/models)")
    ap.add_argument('--no-models', action='store_true', help='only against the run\'s own training images')
    ap.add_argument('--out', help='write the table here as CSV')
    a = ap.parse_args(argv)
    from neuro_decode.config import write_csv, ConfigError
    from neuro_decode.nsd import NSDFormatError
    from neuro_decode.bundled import training_sets
    try:
        models = None if a.no_models else training_sets(a.models)
        t = pd.concat([novelty(d, models).assign(world=Path(d).name) for d in a.data], ignore_index=True)
    except (NSDFormatError, FileNotFoundError, ConfigError) as e: sys.exit(str(e))
    print(t.round(3).to_string(index=False))
    if a.out: print('wrote', write_csv(t, a.out, index=False))
    return t

if __name__ == '__main__': main()
