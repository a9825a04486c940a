"""Numbers a reviewer can trust: every file records the model that made it, readers refuse another model, real
weights never fall back to bundled ones, every stage-1 model is scored on the same footing and beats chance."""
import json, shutil, subprocess, sys
from pathlib import Path
import numpy as np, h5py, pytest, torch
from neuro_decode.config import ProvenanceError, bundled_dir, write_manifest, read_source, sha256
from neuro_decode.nsd import prepare_subject, load_prep, read_stimuli, Layout
from neuro_decode.features import extract_features, FeatureReader, vdvae_model
from neuro_decode.vdvae import WeightsError, save_vdvae, VDVAE_CHECKPOINT
from neuro_decode.regress import (fit_stage1, load_predictions, load_targets, restandardize, TrainConfig, latent_scores,
                                  _epochs, GRURegressor)
from neuro_decode.stats import two_way_identification, permutation_p, pearson
from neuro_decode.stage1 import stage1_images, read_images

@pytest.fixture(scope='module')
def run(tiny_root, tmp_path_factory):
    "A tiny run: both subjects prepared, features from the bundled models, ridge and GRU for subject 1."
    rd = tmp_path_factory.mktemp('run')
    for s in (1, 7): prepare_subject(tiny_root, s, rd, progress=False)
    extract_features(rd, (15,), progress=False)
    for m in ('ridge', 'gru'): fit_stage1(rd, 1, m, 15, cfg=TrainConfig(max_epochs=3), device='cpu', progress=False)
    return rd

def test_ridge_chooses_alpha_inside_the_fitting_images_and_keeps_the_papers_as_a_variant(run, tmp_path, monkeypatch):
    "ridge: alpha by cross-validation on the fitting images only (never the validation or test images); ridge_paper: 50,000; both in Table 3."
    import neuro_decode.regress as R
    from neuro_decode.report import table3
    seen, choose = [], R.ridge_alpha
    def spy(X, Y, *a, **kw): seen.append(np.array(X)); return choose(X, Y, *a, **kw)
    rd = tmp_path/'run'; shutil.copytree(run, rd)
    monkeypatch.setattr(R, 'ridge_alpha', spy)
    cv = fit_stage1(rd, 1, 'ridge', 15, device='cpu', progress=False)
    paper = fit_stage1(rd, 1, 'ridge_paper', 15, device='cpu', progress=False)
    prep = load_prep(rd/'sub-01'/'prep.h5')
    va, tr = R.validation_split(len(prep.train_betas), 0.1, 0)
    assert len(seen) == 1 and np.array_equal(seen[0], prep.train_betas[tr])         # only ridge cross-validates, on the fitting images
    assert cv['info_alpha'] in R.RIDGE_ALPHAS and 'cross-validation' in cv['info_alpha_from'] and np.isfinite(cv['info_alpha_cv_r2'])
    assert paper['info_alpha'] == R.PAPER_ALPHA == 5e4 and paper['info_alpha_from'] == 'brain-diffuser'
    assert fit_stage1(rd, 1, 'ridge', 15, alpha=7., device='cpu', progress=False)['info_alpha'] == 7. and len(seen) == 1
    t = table3({'stage1': R.stage1_table(rd)})
    assert {'ridge', 'ridge_paper', 'gru'} <= set(t.model) and t.set_index('model').loc['ridge_paper', 'alpha'] == 5e4

@pytest.fixture
def other_bundled(tmp_path, monkeypatch):
    "A copy of the bundled models whose VDVAE weights differ (a retrained model), made the bundled folder."
    d = tmp_path/'models'; shutil.copytree(bundled_dir(), d)
    m, _ = vdvae_model(device='cpu')
    with torch.no_grad(): next(m.parameters()).add_(0.01)
    save_vdvae(m, d/'vdvae_small.safetensors')
    write_manifest(d)
    monkeypatch.setenv('NEURO_DECODE_BUNDLED', str(d))
    return d

def test_files_record_their_model(run):
    with h5py.File(run/'features'/'vdvae_L15.h5') as f: src = read_source(f.attrs['model_source'])
    assert src['kind'] == 'bundled' and src['role'] == 'vdvae'
    assert src['sha256']['vdvae_small.safetensors'] == sha256(bundled_dir()/'vdvae_small.safetensors')
    _, _, tsrc = load_predictions(run, 1, 'ridge', 15)
    assert tsrc == src                                                    # predictions carry their targets' model
    out = stage1_images(run, 1, 'ridge', 15, device='cpu', progress=False)
    assert json.loads((out/'index.json').read_text())['decoder'] == src and (out/'index.json').stat().st_size > 0

def test_another_model_is_refused(run, tmp_path, other_bundled):
    "A features file made by one VDVAE is neither decoded with nor silently overwritten by another."
    rd = tmp_path/'run'; shutil.copytree(run, rd)
    before = sha256(rd/'features'/'vdvae_L15.h5', cache=False)
    with pytest.raises(ProvenanceError, match=r'pred_ridge_L15\.h5: made by bundled vdvae .* but this step uses bundled vdvae'):
        stage1_images(rd, 1, 'ridge', 15, device='cpu', progress=False)
    with pytest.raises(ProvenanceError, match=r'vdvae_L15\.h5: made by bundled vdvae'):
        stage1_images(rd, 1, 'true', 15, device='cpu', progress=False)
    with pytest.raises(ProvenanceError, match=r'vdvae_L15\.h5: made by .*overwrite'):
        extract_features(rd, (15,), progress=False)
    assert sha256(rd/'features'/'vdvae_L15.h5', cache=False) == before      # nothing was overwritten
    extract_features(rd, (15,), overwrite=True, progress=False)           # asked for explicitly: recomputed
    FeatureReader(rd/'features'/'vdvae_L15.h5', expect=vdvae_model(device='cpu')[1])

def test_real_weights_never_fall_back(run, tmp_path):
    "With a weights folder, a missing real model is an error naming the file, never the bundled model."
    w = tmp_path/'weights'; w.mkdir()
    with pytest.raises(WeightsError, match=VDVAE_CHECKPOINT + ': missing'):
        stage1_images(run, 1, 'ridge', 15, weights_dir=w, device='cpu', progress=False)
    rd = tmp_path/'run'; shutil.copytree(run, rd)
    with pytest.raises(WeightsError, match=VDVAE_CHECKPOINT + ': missing'):
        extract_features(rd, (15,), weights_dir=w, progress=False)

def test_every_model_on_the_same_footing(run):
    res = {m: json.loads((run/'sub-01'/f'metrics_{m}_L15.json').read_text()) for m in ('ridge', 'gru')}
    keys = {f'{s}_{m}_{p}' for s in ('val', 'test') for m in ('mse', 'mae', 'corr', 'ident') for p in ('raw', 'restd')}
    for m, r in res.items(): assert keys <= set(r), (m, keys - set(r))
    assert res['ridge']['n_val'] == res['gru']['n_val']                  # one validation split for all
    prep = load_prep(run/'sub-01'/'prep.h5')
    true = load_targets(run, prep.test_ids, 15)
    for m in res:                                                         # the table's numbers come from the files
        raw, _, _ = load_predictions(run, 1, m, 15, 'raw')
        restd, _, _ = load_predictions(run, 1, m, 15, 'test')
        with h5py.File(run/'sub-01'/f'pred_{m}_L15.h5') as f: ts = f['target_std'][()]
        ok = raw.std(0) > 0
        np.testing.assert_allclose(restd.std(0)[ok], ts[ok], rtol=1e-3)     # given the training targets' scale
        assert abs(latent_scores(raw, true)['mse'] - res[m]['test_mse_raw']) < 1e-5
        assert abs(latent_scores(restd, true)['mse'] - res[m]['test_mse_restd']) < 1e-5
    assert res['gru']['info_val_mse_split_half'] > 0 and 'info_val_mse_selected' in res['gru']

def test_stage1_beats_chance_on_the_tiny_world(run):
    prep = load_prep(run/'sub-01'/'prep.h5')
    true = load_targets(run, prep.test_ids, 15)
    pred, _, _ = load_predictions(run, 1, 'ridge', 15, 'test')
    ident, p = permutation_p(pred, true, two_way_identification, n=500)
    assert ident > 0.65 and p < 0.01, (ident, p)

def test_stage1_images_differ_by_model_as_expected(run):
    "Decoded true latents resemble the stimuli most; ridge's decoded predictions beat their own shuffled pairing."
    from PIL import Image
    prep = load_prep(run/'sub-01'/'prep.h5')
    ids = prep.test_ids
    stim = read_stimuli(Layout(prep.attrs['data_root']).stimuli, ids)
    small = np.stack([np.asarray(Image.fromarray(s).resize((64, 64), Image.BICUBIC)) for s in stim]).reshape(len(ids), -1).astype(np.float32)
    pc = {}
    for m in ('true', 'ridge'):
        ims = read_images(stage1_images(run, 1, m, 15, device='cpu', progress=False), ids).reshape(len(ids), -1).astype(np.float32)
        pc[m] = permutation_p(ims, small, pearson, n=300)
    assert pc['true'][0] > pc['ridge'][0] and pc['ridge'][1] < 0.05, pc

def test_refit_replays_learning_rates():
    torch.manual_seed(0)
    m = GRURegressor(10, 3)
    X, Y = torch.randn(40, 10), torch.randn(40, 3)
    lrs = [1e-3, 1e-3, 5e-4, 2.5e-4]
    hist, _ = _epochs(m, X, Y, TrainConfig(), 4, torch.Generator().manual_seed(0), lrs=lrs)
    assert [h['lr'] for h in hist] == lrs

def test_restandardize_variants():
    rng = np.random.default_rng(0)
    p = rng.normal(2, 0.1, (30, 4))
    t = restandardize(p, np.zeros(4), np.ones(4))                           # transductive: exactly the targets' scale
    np.testing.assert_allclose(t.std(0), 1, rtol=1e-9)
    s = restandardize(p, np.zeros(4), np.ones(4), np.full(4, 2.), np.full(4, 0.2))   # given statistics: not forced
    np.testing.assert_allclose(s.std(0), p.std(0)/0.2, rtol=1e-9)

def test_vd_embeddings_equal_diffusers():
    "Our text and vision embeddings equal Versatile Diffusion's own encode functions in diffusers, on the same encoders."
    import types
    from PIL import Image
    from diffusers.pipelines.deprecated.versatile_diffusion.pipeline_versatile_diffusion_dual_guided import VersatileDiffusionDualGuidedPipeline as P
    from neuro_decode.features import vd_encoders, vd_text_tokens, vd_image_tokens
    from neuro_decode.bundled import scene_pairs
    enc, _ = vd_encoders(device='cpu')
    stub = types.SimpleNamespace(tokenizer=enc.tokenizer, text_encoder=enc.text, image_encoder=enc.vision,
                                 image_feature_extractor=enc.processor)
    imgs, caps = scene_pairs(3, 4321, size=425)
    with torch.no_grad():
        t = P._encode_text_prompt(stub, [c[0] for c in caps], 'cpu', 1, False)
        i = P._encode_image_prompt(stub, [Image.fromarray(x) for x in imgs], 'cpu', 1, False)
    torch.testing.assert_close(vd_text_tokens(enc, [c[0] for c in caps]), t, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(vd_image_tokens(enc, imgs), i, rtol=1e-5, atol=1e-6)

def test_fractional_ridge_reaches_the_fractions():
    "The GLM's fractional ridge shrinks each voxel's betas to the requested fraction of the OLS norm, as PyPI's fracridge does."
    from fracridge import fracridge
    from neuro_decode.glm import _frac_alphas
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 15)); y = X @ rng.normal(size=(15, 6)) + 2*rng.normal(size=(120, 6))
    fracs = np.array([0.1, 0.3, 0.5, 0.7, 0.9])
    lam, Q = np.linalg.eigh(X.T @ X)
    z = Q.T @ (X.T @ y)
    a = _frac_alphas(torch.as_tensor(lam), torch.as_tensor(z), torch.as_tensor(fracs)).numpy()
    ols = np.linalg.norm(Q @ (z/lam[:, None]), axis=0)
    ref, _ = fracridge(X, y, fracs, jit=False)
    for j, f in enumerate(fracs):
        beta = Q @ (z/(lam[:, None] + a[j][None]))
        np.testing.assert_allclose(np.linalg.norm(beta, axis=0)/ols, f, rtol=2e-3)
        np.testing.assert_allclose(beta, ref[:, j], rtol=1e-2, atol=1e-3*np.abs(ref).max())

def test_reader_and_glm_never_import_the_simulator():
    code = ("import sys, neuro_decode.nsd, neuro_decode.glm, neuro_decode.regress, neuro_decode.features, neuro_decode.stage1, "
            "neuro_decode.vdvae; print('neuro_decode.simulate' in sys.modules)")
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == 'False'

def test_declared_transformers_floor():
    "The bundled tokenizer is in transformers 5's format (tokenizer.json only); the declared floor says so."
    import re, transformers
    from packaging.version import Version
    ini = (Path(__file__).resolve().parent.parent/'settings.ini').read_text()
    floor = Version(re.search(r'transformers>=([\d.]+)', ini).group(1))
    assert floor >= Version('5.0') and Version(transformers.__version__) >= floor
    tok = bundled_dir()/'vd_small'/'tokenizer'
    assert (tok/'tokenizer.json').exists() and not (tok/'vocab.json').exists()

def test_float16_features_change_reconstructions_below_the_metrics_resolution(run, tmp_path):
    "Features stored as float16 (half the disk) give stage-1 images whose PixCorr and SSIM differ from float32's by less than 0.0005."
    from neuro_decode.metrics import pixcorr, ssim
    rd = tmp_path/'run16'
    shutil.copytree(run, rd, ignore=lambda d, names: [n for n in names if n == 'features' or n == 'images' or n.startswith(('pred_', 'metrics_', 'history_')) or n.endswith('.safetensors')])
    extract_features(rd, (15,), progress=False, dtype='float16')
    with h5py.File(rd/'features'/'vdvae_L15.h5') as f: assert f['latents'].dtype == np.float16
    assert FeatureReader(rd/'features'/'vdvae_L15.h5').read(load_prep(rd/'sub-01'/'prep.h5').test_ids[:2]).dtype == np.float32
    fit_stage1(rd, 1, 'ridge', 15, device='cpu', progress=False)
    prep = load_prep(run/'sub-01'/'prep.h5')
    gt = read_stimuli(Layout(prep.attrs['data_root']).stimuli, prep.test_ids)
    for m in ('true', 'ridge'):
        a, b = (read_images(stage1_images(r, 1, m, 15, device='cpu', progress=False), prep.test_ids) for r in (run, rd))
        for metric in (pixcorr, ssim):
            assert abs(metric(a, gt).mean() - metric(b, gt).mean()) < 5e-4, (m, metric.__name__, metric(a, gt).mean(), metric(b, gt).mean())
