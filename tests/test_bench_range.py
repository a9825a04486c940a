"The instrument-range benchmark (bench/instrument_range.py): its arithmetic on images whose answer is known, and its committed table."
import sys
import numpy as np, pandas as pd, pytest
from conftest import ROOT

sys.path.insert(0, str(ROOT/'bench'))
import instrument_range as ir

def test_range_of_known_images():
    "Reconstructions equal to the truth span the whole range against another scene: every bound is met, and the numbers are the metrics'."
    from neuro_decode.metrics import read_shared20, ssim, pixcorr
    gt = read_shared20()
    if gt is None: pytest.skip('../shared/data/nsd_shared20 is absent')
    gt = gt[:8]
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, gt.shape).astype(np.uint8)
    other = gt[np.roll(np.arange(len(gt)), 1)]
    images = {'a: true latents L15': gt, 'a: true latents L31': gt, 'b: stage 2 of a L15, true embeddings': gt,
              'b: stage 2 of a L31, true embeddings': gt, 'c: stage 2 of a L15 + noise 256, true embeddings': noise, 'd: another scene': other}
    t = ir.range_table(images, gt, n_boot=200)
    lv = t[t.kind == 'level'].set_index(['what', 'metric']).value
    np.testing.assert_allclose(lv['a: true latents L15', 'ssim'], 1, atol=1e-6)
    np.testing.assert_allclose(lv['d: another scene', 'ssim'], ssim(other, gt).mean(), atol=1e-9)
    d = t[t.kind == 'difference'].set_index(['what', 'metric'])
    np.testing.assert_allclose(d.loc[('a - d (true latents L15)', 'pixcorr'), 'value'], 1 - pixcorr(other, gt).mean(), atol=1e-6)
    np.testing.assert_allclose(d.loc[('b - c (stage 2 of a L15, true embeddings)', 'ssim'), 'value'],
                               1 - ssim(noise, gt).mean(), atol=1e-6)
    assert t[t.bound.notna()].met.all() and len(t[t.bound.notna()]) == 7       # 3 differences x 2 metrics, and identification
    assert (t.lo <= t.value + 1e-9).all() and (t.value <= t.hi + 1e-9).all()
    ident = t[t.kind == 'identification'].iloc[0]
    assert ident.metric == 'clip_small' and ident.value == 1.0                    # an image is identified among others by itself

def test_committed_table_is_the_default_world_range():
    "bench/results/instrument_range.csv: the documented command's table on the default run, and which bounds it meets."
    t = pd.read_csv(ROOT/'bench'/'results'/'instrument_range.csv')
    assert set(t.run) == {'sim-default'} and set(t.subject) == {1} and (t.n == 100).all()
    assert {w.split(':')[0] for w in t[t.kind == 'level'].what} == {'a', 'b', 'c', 'd'}
    b = t[t.bound.notna()]
    assert len(b) == 7 and set(b.met) <= {True, False}
    assert ((b.value >= b.bound) == b.met.astype(bool)).all()

def test_novelty_counts_a_copied_caption(tiny_copy):
    "bench/world_novelty.py on the tiny world: give a novel test image a training image's captions, and it stops counting as new."
    import json
    import world_novelty as wn
    from neuro_decode.nsd import load_expdesign, Layout, _stim_table
    before = wn.novelty(tiny_copy).set_index('measure').value
    ed = load_expdesign(tiny_copy)
    test, train = np.unique(ed.sharedix), np.setdiff1d(np.unique(ed.subjectim[ed.subjectim >= 0]), np.unique(ed.sharedix))
    coco = _stim_table(tiny_copy)['cocoId']
    files = sorted(Layout(tiny_copy).annotations.glob('captions_*.json'))
    anns = {f: json.loads(f.read_text()) for f in files}
    text = {a['image_id']: [] for d in anns.values() for a in d['annotations']}
    for d in anns.values():
        for a in d['annotations']: text[a['image_id']].append(a['caption'].strip())
    seen = {c for i in train for c in text[int(coco[i])]}
    t = next(int(i) for i in test if not any(c in seen for c in text[int(coco[i])]))     # a test image with only new captions
    donor = text[int(coco[train[0]])][0]
    for f, d in anns.items():
        for a in d['annotations']:
            if a['image_id'] == int(coco[t]): a['caption'] = donor
        f.write_text(json.dumps(d))
    after = wn.novelty(tiny_copy).set_index('measure').value
    key = 'test images with no caption among the training captions'
    np.testing.assert_allclose(after[key], before[key] - 1/len(test))
    assert after['test scenes not among the training scenes'] == before['test scenes not among the training scenes']   # scenes untouched

def test_committed_novelty_is_the_default_world():
    "The committed table: the default preset in both scene spaces; the open world's test set is new, the grid's is not."
    t = pd.read_csv(ROOT/'bench'/'results'/'world_novelty.csv')
    assert set(t.world) == {'sim-default-seed0', 'sim-default-open-seed0'} and len(t) == 8 and t.value.between(0, 1).all()
    v = t.set_index(['scene_space', 'measure']).value
    assert (v['open'] >= .95).all()
    assert v['grid', 'test images with no caption among the training captions'] < .95
