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
    from neuro_decode.objects import load_object_net, predict_classes
    labels = predict_classes(load_object_net(), gt)                                # what the observer names in the true images
    images.update(ir.ceilings(gt, 64))
    assert images['e: the true image at 64 px'].shape == (8, 64, 64, 3) and (images['f: a grey image'] == 128).all()
    t = ir.range_table(images, gt, labels, n_boot=200)
    lv = t[t.kind == 'level'].set_index(['what', 'metric']).value
    np.testing.assert_allclose(lv['a: true latents L15', 'ssim'], 1, atol=1e-6)
    np.testing.assert_allclose(lv['d: another scene', 'ssim'], ssim(other, gt).mean(), atol=1e-9)
    d = t[t.kind == 'difference'].set_index(['what', 'metric'])
    np.testing.assert_allclose(d.loc[('a - d (true latents L15)', 'pixcorr'), 'value'], 1 - pixcorr(other, gt).mean(), atol=1e-6)
    np.testing.assert_allclose(d.loc[('b - c (stage 2 of a L15, true embeddings)', 'ssim'), 'value'],
                               1 - ssim(noise, gt).mean(), atol=1e-6)
    assert t[t.bound.notna()].met.all() and len(t[t.bound.notna()]) == 8       # 3 differences x 2 metrics, CLIP and objects
    assert (t.lo <= t.value + 1e-9).all() and (t.value <= t.hi + 1e-9).all()
    ident = t[t.kind == 'identification'].set_index('metric').value
    assert ident['clip_small'] == 1.0 and ident['objects'] == 1.0                # an image is identified by itself, its object named

def test_committed_table_is_the_default_world_range():
    "bench/results/instrument_range.csv: the documented command's table on the default run, and which bounds it meets."
    t = pd.read_csv(ROOT/'bench'/'results'/'instrument_range.csv')
    assert set(t.run) == {'sim-default'} and set(t.subject) == {1} and (t.n == 100).all()
    assert {w.split(':')[0] for w in t[t.kind == 'level'].what} == {'a', 'b', 'c', 'd', 'e', 'f', 'g'}
    lv = t[t.kind == 'level'].set_index(['what', 'metric']).value
    e = next(w for w in lv.index.get_level_values(0) if w.startswith('e:'))
    assert lv[e, 'ssim'] > lv['f: a grey image', 'ssim'] and lv[e, 'pixcorr'] > .8     # the true image at 64 px scores above a grey one
    g = next(w for w in lv.index.get_level_values(0) if w.startswith('g:'))
    assert lv[g, 'pixcorr'] > lv['a: true latents L15', 'pixcorr'] and lv[g, 'objects'] <= lv[e, 'objects']   # VD's decoder: more than stage 1, less than the truth
    b = t[t.bound.notna()]
    assert len(b) == 7 + ('objects' in set(b.metric)) and set(b.met) <= {True, False}   # the observer's bound on an open-world run
    assert ((b.value >= b.bound) == b.met.astype(bool)).all()
    met = {(w.split(' (')[0], m) for w, m in zip(b[b.met.astype(bool)].what, b[b.met.astype(bool)].metric)}
    assert {('a - d', 'pixcorr'), ('a - d', 'ssim'), ('b: stage 2 of a L15, true embeddings', 'clip_small')} <= met   # what the open world reached stays reached

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
    """The committed table: the default preset in both scene spaces, the open (default) one also against every bundled
    model's training scenes, as many as their records name; the open world's test set is new to all of them, the grid's is not."""
    import json
    t = pd.read_csv(ROOT/'bench'/'results'/'world_novelty.csv')
    assert set(t.world) == {'sim-default-seed0', 'sim-default-grid-seed0'} and t.value.between(0, 1).all()
    o, g = t[t.scene_space == 'open'], t[t.scene_space == 'grid']
    assert set(o.world) == {'sim-default-seed0'}                                    # the default preset is the open world
    models = {'vdvae_small', 'eval_clip_small', 'vd_small CLIP encoders', 'vd_small UNet', 'object_net_small'}
    assert set(o.against) == {"the run's training images", 'itself', *models}
    assert (o.value >= .95).all()
    d = ROOT/'data'/'models'
    n = o.groupby('against').train_images.first()
    assert n['vdvae_small'] == json.loads((d/'vdvae_small.json').read_text())['scenes']['n']
    assert n['vd_small UNet'] == json.loads((d/'vd_small'/'TRAINING_VD.json').read_text())['runs'][-1]['scenes']['n']
    assert n['object_net_small'] == int(json.loads((d/'object_net_small.json').read_text())['trained_on'].split()[0])
    v = g.set_index('measure').value
    assert v['test images with no caption among the training captions'] < .95
