"The small VD's held-out benchmark (bench/vd_heldout.py): its committed table and its refusal of a folder that is not a VD."
import sys, json
import numpy as np, pandas as pd, pytest
from conftest import ROOT
from neuro_decode.config import ConfigError, bundled_dir

sys.path.insert(0, str(ROOT/'bench'))
import vd_heldout as vh

def test_bad_arguments_are_refused_before_any_work(tmp_path, monkeypatch):
    "A folder that is not a VD, or names that do not pair with the folders: an error naming it, before any scene is drawn."
    import neuro_decode.bundled
    def no_work(*a, **k): raise AssertionError('scenes drawn before the arguments were checked')
    monkeypatch.setattr(neuro_decode.bundled, 'scene_pairs', no_work)
    with pytest.raises(ConfigError, match=r'nothing-here: not a small VD folder \(no image_unet/\)'):
        vh.main(['--vd', str(tmp_path/'nothing-here'), '--out', str(tmp_path/'t.csv')])
    (tmp_path/'vd'/'image_unet').mkdir(parents=True)
    with pytest.raises(ConfigError, match=r'2 names for 1 VD folders'):
        vh.main(['--vd', str(tmp_path/'vd'), '--names', 'a', 'b', '--out', str(tmp_path/'t.csv')])
    assert not (tmp_path/'t.csv').exists()

def test_committed_table_reproduces_the_training_record():
    """Today's code scores the bundled VD as notebook 93 did when it trained it (the same scenes, seeds and metrics:
    SSIM, PixCorr and eval-CLIP identification equal); the observer's column is today's observer. The 16x16 trial is
    scored on the same scenes, and its VAE alone shows the main object more often than the bundled 8x8 one's."""
    t = pd.read_csv(ROOT/'bench'/'results'/'vd_heldout.csv')
    rows = {'VAE round trip', 'from noise', 'stage 1 (true latents, 31 layers)', 'img2img from stage 1', 'img2img from grey'}
    b = t[t.vd == 'bundled']
    assert set(b.row) == rows and (b.latent == 8).all() and set(t.n) == {100} and set(t.seed) == {4681}
    rec = json.loads((bundled_dir()/'vd_small'/'TRAINING_VD.json').read_text())
    assert rec['heldout_seed'] == 4681
    v = b.set_index(['row', 'metric']).value
    for row, d in rec['runs'][-1]['heldout'].items():
        for m in ('ssim', 'pixcorr', 'eval_clip_ident'): np.testing.assert_allclose(v[row, m], d[m], atol=1e-6, err_msg=f'{row} {m}')
    trial = t[t.vd == 'latent-16 trial']
    assert set(trial.latent) == {16} and set(trial.row) == rows
    rt = lambda d: d[(d.row == 'VAE round trip') & (d.metric == 'object_accuracy')].value.item()
    assert rt(trial) > rt(b)
