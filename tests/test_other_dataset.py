"""A dataset that is not NSD-shaped needs only a reader: stages 1 and 2 on the Miyawaki data (92_miyawaki's reader), through the
same functions NSD runs use, with the stimuli read back through the run layout. Skips without the data."""
import hashlib
from pathlib import Path
import numpy as np, pandas as pd, pytest
from neuro_decode.config import ConfigError
from neuro_decode.layout import RunLayout, image_index
from neuro_decode.miyawaki import load_miyawaki, prepare_miyawaki, render_patterns, figure_labels, MIYAWAKI_FILE
from neuro_decode.nsd import load_prep
from neuro_decode.features import extract_features, FeatureReader
from neuro_decode.regress import fit_stage1, load_predictions, load_targets
from neuro_decode.stage1 import stage1_images, read_images
from neuro_decode.stage2 import fit_clip_regressors, run_stage2
from neuro_decode.metrics import evaluate_folders, pixcorr
from neuro_decode.stats import two_way_identification

@pytest.fixture(scope='module')
def data():
    try: return load_miyawaki()
    except ConfigError as e: pytest.skip(f'real Miyawaki data absent: {e}')

def _digests(folder:Path)->dict:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob('*')) if p.is_file()}

@pytest.fixture(scope='module')
def run(data, tmp_path_factory):
    "A run folder with the Miyawaki subject taken through stages 1 and 2 (bundled models, ridge, 15 layers)."
    from neuro_decode.config import shared_data_dir
    src = (shared_data_dir()/MIYAWAKI_FILE).parent
    before = _digests(src)
    rd = tmp_path_factory.mktemp('miyawaki')/'run'
    prepare_miyawaki(rd)
    extract_features(rd, latents=(15,), device='cpu', progress=False)
    fit_stage1(rd, 1, 'ridge', 15, alpha=1e3, device='cpu', progress=False)
    for m in ('true', 'ridge'): stage1_images(rd, 1, m, 15, device='cpu', progress=False)
    fit_clip_regressors(rd, 1, alpha_vision=1e3, device='cpu')
    run_stage2(rd, 1, 'ridge', 15, device='cpu', progress=False, steps=10)
    assert _digests(src) == before                      # nothing written beside the data
    return rd

def test_the_reader_writes_a_prep_file_and_stimuli_by_id(run, data):
    prep, sl = load_prep(RunLayout(run).subject(1).prep), RunLayout(run).subject(1)
    Y = np.concatenate([data['Y_train'], data['Y_test']])
    lab, _ = figure_labels(Y)
    assert not set(lab[prep.test_ids]) & set(lab[prep.train_ids])          # test figures never seen in training
    assert len(prep.test_ids) == 63 and len(prep.train_ids) == 56 and not sl.info()['captions']
    assert sl.stimulus_file().is_relative_to(run)                           # the reader wrote its stimuli into the run
    np.testing.assert_array_equal(sl.stimuli(prep.test_ids[::7]), render_patterns(Y[prep.test_ids[::7]]))

def test_features_come_from_the_readers_stimuli(run):
    prep = load_prep(RunLayout(run).subject(1).prep)
    f = FeatureReader(RunLayout(run).clip_features('vision'))
    assert f.shape[0] == len(prep.train_ids) + len(prep.test_ids)
    assert not RunLayout(run).clip_features('text').exists()               # no captions: no text embeddings

def test_stage1_predicts_the_held_out_figures(run):
    z, ids, _ = load_predictions(run, 1, 'ridge', 15, 'test')
    true = load_targets(run, ids, 15)
    ident = float(two_way_identification(z, true).mean())
    assert ident > 0.6, ident                                              # chance: 0.5
    assert read_images(RunLayout(run).subject(1).images('ridge', 15), ids).shape == (len(ids), 64, 64, 3)

def test_stage2_and_the_metrics_run_on_it(run):
    sl = RunLayout(run).subject(1)
    assert image_index(sl.images('ridge', 15, stage=2)).exists()
    table, scores = evaluate_folders(run, 1, device='cpu', n_boot=50, progress=False)
    got = set(zip(table.model, table.stage))
    assert {('true', 1), ('ridge', 1), ('ridge', 2)} <= got
    pix = table[(table.metric == 'pixcorr')].set_index(['model', 'stage']).value
    assert np.isfinite(pix['ridge', 2])

def test_stage1_images_look_like_their_own_figure(run):
    sl = RunLayout(run).subject(1)
    ids = load_prep(sl.prep).test_ids
    gt, other = sl.stimuli(ids), sl.stimuli(np.roll(ids, 7))          # another trial's stimulus (95% of them another figure)
    for m in ('true', 'ridge'):
        im = read_images(sl.images(m, 15), ids, '_512')
        own, wrong = pixcorr(im, gt).mean(), pixcorr(im, other).mean()
        assert own > wrong + 0.05, (m, own, wrong)                         # measured: true 0.48 vs 0.28, ridge 0.36 vs 0.26
