"Stage 2 (09_stage2) and the bundled small VD: the sampler's conventions, real and small models through the same code, quality on held-out scenes."
import json, shutil
from pathlib import Path
import numpy as np, pytest, torch
from neuro_decode.config import bundled_dir, ProvenanceError, bundled_path, write_manifest
from neuro_decode.vdvae import WeightsError
from neuro_decode.stage2 import (vd_model, load_vd, stage2_sample, start_schedule, ddim_scheduler, check_embeddings, image_seeds,
                                 accepts_encoder_mask, _dual_transformer_class, patch_dual_transformer, run_stage2, fit_clip_regressors,
                                 check_vd_folder, load_clip_predictions)
from neuro_decode.features import VD_PARTS, VD_FOLDER

@pytest.fixture(scope='module')
def vd():
    return vd_model(device='cpu')

def test_diffusers_issue_13651_still_needs_the_patch():
    "Fails once diffusers' DualTransformer2DModel accepts encoder_attention_mask: then remove patch_dual_transformer."
    patch_dual_transformer()
    DT = _dual_transformer_class()
    original = getattr(DT.forward, '_original', DT.forward)
    assert not accepts_encoder_mask(original), 'diffusers fixed issue 13651: remove patch_dual_transformer from 09_stage2'
    assert accepts_encoder_mask(DT.forward)

def test_timestep_conventions():
    s = ddim_scheduler({})
    t, run = start_schedule(s, 50, 0.75, 'brain-diffuser')
    assert (t, len(run), int(run[0]), int(run[-1])) == (741, 37, 721, 1)
    t, run = start_schedule(s, 50, 0.75, 'diffusers')
    assert (t, len(run)) == (721, 37)
    assert start_schedule(s, 50, 1.0)[0] is None

def test_same_seed_same_image_whatever_the_batch(vd):
    rng = np.random.default_rng(0)
    init = (rng.uniform(size=(3, 64, 64, 3))*255).astype(np.uint8)
    t, v = rng.normal(size=(3, 77, vd.dim)).astype(np.float32)*0.1, rng.normal(size=(3, 257, vd.dim)).astype(np.float32)*0.1
    seeds = image_seeds([5, 6, 7])
    a = stage2_sample(vd, init, t, v, seeds, steps=10, batch=3)
    b = np.concatenate([stage2_sample(vd, init[i:i+1], t[i:i+1], v[i:i+1], seeds[i:i+1], steps=10) for i in (0, 1, 2)])
    np.testing.assert_array_equal(a, stage2_sample(vd, init, t, v, seeds, steps=10, batch=3))     # same call, same images
    # another batch composition changes the float summation order of CPU kernels: at most one grey level in rare pixels
    d = np.abs(a.astype(int) - b)
    assert d.max() <= 1 and (d > 0).mean() < 1e-3, (d.max(), (d > 0).mean())
    assert a.shape == (3, vd.size, vd.size, 3) and not np.array_equal(a[0], a[1])

def test_embeddings_of_the_wrong_shape_are_refused(vd):
    with pytest.raises(Exception, match=r'text embeddings of shape \(2, 77, 768\); this VD .* expects \(n, 77, 64\)'):
        check_embeddings(vd, np.zeros((2, 77, 768)), np.zeros((2, 257, vd.dim)))
    with pytest.raises(Exception, match=r'vision embeddings of shape \(2, 256, 64\)'):
        check_embeddings(vd, np.zeros((2, 77, vd.dim)), np.zeros((2, 256, vd.dim)))

def _real_layout(tmp_path:Path)->Path:
    "The bundled small VD rewritten as the real VD's hub folder: an ordinary image_unet plus a text_unet."
    from diffusers import UNet2DConditionModel
    src = bundled_dir()/'vd_small'
    dst = tmp_path/'weights'/VD_FOLDER
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns('image_unet'))
    cfg = json.loads((src/'image_unet'/'config.json').read_text())
    plain = UNet2DConditionModel.from_config({**{k: v for k, v in cfg.items() if not k.startswith('_')}, 'dual_cross_attention': False})
    from safetensors.torch import load_file
    sd = load_file(str(src/'image_unet'/'diffusion_pytorch_model.safetensors'))
    for which, name in ((0, 'image_unet'), (1, 'text_unet')):
        part = {k.replace(f'.transformers.{which}.', '.'): v for k, v in sd.items() if '.transformers.' not in k or f'.transformers.{which}.' in k}
        plain.load_state_dict(part)
        plain.save_pretrained(dst/name, safe_serialization=True)
    return dst.parent

def test_real_layout_drives_the_same_sampler(tmp_path, vd):
    "A VD folder in the hub's layout (image_unet + text_unet) loads into the same dual UNet and samples the same images."
    w = _real_layout(tmp_path)
    real = vd_model(w, 'cpu')
    assert real.source['kind'] == 'real' and real.clip_source['kind'] == 'real'
    a, b = real.unet.state_dict(), vd.unet.state_dict()
    assert set(a) == set(b) and all(torch.equal(a[k], b[k]) for k in a)
    rng = np.random.default_rng(1)
    init = (rng.uniform(size=(2, 64, 64, 3))*255).astype(np.uint8)
    t, v = rng.normal(size=(2, 77, 64)).astype(np.float32)*0.1, rng.normal(size=(2, 257, 64)).astype(np.float32)*0.1
    np.testing.assert_array_equal(stage2_sample(real, init, t, v, [1, 2], steps=8), stage2_sample(vd, init, t, v, [1, 2], steps=8))

def test_incomplete_folder_names_what_is_missing(tmp_path):
    w = _real_layout(tmp_path)
    shutil.rmtree(w/VD_FOLDER/'text_unet')
    with pytest.raises(WeightsError, match=r'missing text_unet/; expected Versatile Diffusion'):
        vd_model(w, 'cpu')
    (w/VD_FOLDER/'vae'/'diffusion_pytorch_model.safetensors').unlink()
    with pytest.raises(WeightsError, match=r'vae/diffusion_pytorch_model.safetensors'):
        check_vd_folder(w/VD_FOLDER)
    (tmp_path/'empty').mkdir()
    with pytest.raises(WeightsError, match=r'versatile-diffusion: incomplete .* missing tokenizer/'):
        vd_model(tmp_path/'empty', 'cpu')

def test_small_vd_does_what_the_paper_relies_on(vd):
    """On held-out scenes: samples from true embeddings land nearest their own scene (eval CLIP), and starting from
    the stage-1 image beats starting from grey, in SSIM and in eval-CLIP identification."""
    from neuro_decode.bundled import scene_pairs
    from neuro_decode.features import text_embeddings, vision_embeddings, load_eval_clip, eval_image_embeddings, vdvae_model
    from neuro_decode.vdvae import encode_latents, decode_latents
    from neuro_decode.metrics import ssim
    from neuro_decode.stats import two_way_identification
    held, caps = scene_pairs(200, 13579, size=425)
    te, ve = text_embeddings(vd.encoders, caps, progress=False), vision_embeddings(vd.encoders, held, progress=False)
    ec = load_eval_clip(bundled_path('eval_clip_small.safetensors'), 'cpu')
    g = eval_image_embeddings(ec, held)
    ident = lambda ims, n: two_way_identification(eval_image_embeddings(ec, ims), g[:n], np.float64).mean()
    noise = stage2_sample(vd, np.full((200, 64, 64, 3), 127, np.uint8), te, ve, image_seeds(range(200)), strength=1.0)
    # the open-world model: 0.879 on its own 100 held-out scenes (93_train_vd)
    assert ident(noise, 200) >= 0.8, ident(noise, 200)
    held, te, ve, seeds = held[:40], te[:40], ve[:40], image_seeds(range(40))
    vdv, _ = vdvae_model(device='cpu')
    s1 = decode_latents(vdv, encode_latents(vdv, held, 31, progress=False), 31, progress=False)
    from_s1, from_grey = stage2_sample(vd, s1, te, ve, seeds), stage2_sample(vd, np.full_like(s1, 127), te, ve, seeds)
    assert ssim(from_s1, held).mean() > ssim(from_grey, held).mean(), (ssim(from_s1, held).mean(), ssim(from_grey, held).mean())
    assert ident(from_s1, 40) > ident(from_grey, 40), (ident(from_s1, 40), ident(from_grey, 40))

def test_subject_run_resumes_and_refuses_another_vd(tiny_root, tmp_path, monkeypatch):
    from neuro_decode.nsd import prepare_subject
    from neuro_decode.features import extract_features
    from neuro_decode.regress import fit_stage1
    from neuro_decode.stage1 import stage1_images
    rd = tmp_path/'run'
    for s in (1, 7): prepare_subject(tiny_root, s, rd, progress=False)
    extract_features(rd, (15,), progress=False)
    fit_stage1(rd, 1, 'ridge', 15, device='cpu', progress=False)
    stage1_images(rd, 1, 'ridge', 15, device='cpu', progress=False)
    scores = fit_clip_regressors(rd, 1, device='cpu')
    assert scores['vision_ident_restd'] > 0.6 and scores['text_ident_restd'] > 0.5, scores
    t, ids, _ = load_clip_predictions(rd, 1, 'text')
    assert t.shape == (12, 77, 64)
    f = run_stage2(rd, 1, 'ridge', 15, steps=6, progress=False)
    ix = json.loads((f/'index.json').read_text())
    assert ix['post'] == 'test' and ix['convention'] == 'brain-diffuser' and ix['vd']['kind'] == 'bundled' and ix['stage'] == 2
    pngs = sorted(f.glob('*.png')); assert len(pngs) == 12
    kept = {p.name: p.stat().st_mtime_ns for p in pngs[2:]}
    for p in pngs[:2]: p.unlink()
    run_stage2(rd, 1, 'ridge', 15, steps=6, progress=False)                      # resumes: only the two missing images
    assert all(p.stat().st_mtime_ns == kept[p.name] for p in pngs[2:]) and all(p.exists() for p in pngs[:2])
    run_stage2(rd, 1, 'ridge', 15, steps=7, progress=False)                      # other parameters: every image again
    assert all(p.stat().st_mtime_ns != kept[p.name] for p in pngs[2:])
    # a VD whose CLIP encoders differ from those that made the features is refused
    d = tmp_path/'models'; shutil.copytree(bundled_dir(), d)
    p = d/'vd_small'/'image_encoder'/'model.safetensors'
    from safetensors.torch import load_file, save_file
    sd = load_file(str(p)); k = next(iter(sd)); sd[k] = sd[k] + 0.01; save_file(sd, str(p)); write_manifest(d)
    monkeypatch.setenv('NEURO_DECODE_BUNDLED', str(d))
    with pytest.raises(ProvenanceError, match=r'pred_clip_vision\.h5: made by bundled vd_clip'):
        run_stage2(rd, 1, 'ridge', 15, steps=6, progress=False)

def _shi_labs_like(folder:Path, dim:int=32)->Path:
    """A small Versatile Diffusion folder written by diffusers' and transformers' own classes, configured like shi-labs' release:
    image UNet (UNet2DConditionModel, sample_size null), text UNet (the deprecated UNetFlatConditionModel), VAE, DDIM, CLIP encoders."""
    from diffusers import UNet2DConditionModel, AutoencoderKL, DDIMScheduler
    from diffusers.pipelines.deprecated.versatile_diffusion.modeling_text_unet import UNetFlatConditionModel
    from transformers import (CLIPTextModelWithProjection, CLIPVisionModelWithProjection, CLIPTextConfig, CLIPVisionConfig,
                              CLIPImageProcessor, CLIPTokenizer)
    torch.manual_seed(0)
    common = dict(block_out_channels=(32, 32, 64, 64), layers_per_block=1, attention_head_dim=8, cross_attention_dim=dim, norm_num_groups=32)
    UNet2DConditionModel(sample_size=None, in_channels=4, out_channels=4, down_block_types=('CrossAttnDownBlock2D',)*3 + ('DownBlock2D',),
                         up_block_types=('UpBlock2D',) + ('CrossAttnUpBlock2D',)*3, **common).save_pretrained(folder/'image_unet')
    UNetFlatConditionModel(sample_size=None, in_channels=(16, 1, 1), out_channels=(16, 1, 1),
                           down_block_types=('CrossAttnDownBlockFlat',)*3 + ('DownBlockFlat',),
                           up_block_types=('UpBlockFlat',) + ('CrossAttnUpBlockFlat',)*3, **common).save_pretrained(folder/'text_unet')
    AutoencoderKL(block_out_channels=(32,)*4, down_block_types=('DownEncoderBlock2D',)*4, up_block_types=('UpDecoderBlock2D',)*4,
                  layers_per_block=1, latent_channels=4, norm_num_groups=32, sample_size=64).save_pretrained(folder/'vae')
    DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule='scaled_linear', clip_sample=False, set_alpha_to_one=False,
                  steps_offset=1).save_pretrained(folder/'scheduler')
    CLIPTextModelWithProjection(CLIPTextConfig(hidden_size=dim, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                                               max_position_embeddings=77, projection_dim=dim)).save_pretrained(folder/'text_encoder')
    CLIPVisionModelWithProjection(CLIPVisionConfig(image_size=64, patch_size=4, hidden_size=dim, intermediate_size=64, num_hidden_layers=2,
                                                   num_attention_heads=2, projection_dim=dim)).save_pretrained(folder/'image_encoder')
    CLIPTokenizer.from_pretrained(bundled_dir()/'vd_small'/'tokenizer').save_pretrained(folder/'tokenizer')
    CLIPImageProcessor(size={'shortest_edge': 64}, crop_size={'height': 64, 'width': 64}).save_pretrained(folder/'image_feature_extractor')
    (folder/'model_index.json').write_text(json.dumps({'_class_name': 'VersatileDiffusionPipeline',
        'text_unet': ['versatile_diffusion', 'UNetFlatConditionModel'], 'image_unet': ['diffusers', 'UNet2DConditionModel']}))
    return folder

def test_a_versatile_diffusion_folder_written_by_diffusers(tmp_path):
    """Our loader on a folder in shi-labs' layout written by diffusers' classes: one dual-guided DDIM step equals the same step
    through diffusers' own VersatileDiffusionDualGuidedPipeline, which converts the image UNet to dual attention itself."""
    from diffusers import UNet2DConditionModel, AutoencoderKL, DDIMScheduler
    from diffusers.pipelines.deprecated.versatile_diffusion import VersatileDiffusionDualGuidedPipeline
    from diffusers.pipelines.deprecated.versatile_diffusion.modeling_text_unet import UNetFlatConditionModel
    from transformers import CLIPTextModelWithProjection, CLIPVisionModelWithProjection, CLIPImageProcessor, CLIPTokenizer
    from neuro_decode.stage2 import set_mixing, denoise_step
    f = _shi_labs_like(tmp_path/'weights'/VD_FOLDER)
    real = vd_model(tmp_path/'weights', 'cpu')
    assert real.size == 512 and real.source['kind'] == 'real'                    # sample_size null in the config: VD's 512 px
    pipe = VersatileDiffusionDualGuidedPipeline(tokenizer=CLIPTokenizer.from_pretrained(f/'tokenizer'),
        image_feature_extractor=CLIPImageProcessor.from_pretrained(f/'image_feature_extractor'),
        text_encoder=CLIPTextModelWithProjection.from_pretrained(f/'text_encoder'),
        image_encoder=CLIPVisionModelWithProjection.from_pretrained(f/'image_encoder'),
        image_unet=UNet2DConditionModel.from_pretrained(f/'image_unet'), text_unet=UNetFlatConditionModel.from_pretrained(f/'text_unet'),
        vae=AutoencoderKL.from_pretrained(f/'vae'), scheduler=DDIMScheduler.from_pretrained(f/'scheduler'))
    pipe.set_transformer_params(mix_ratio=0.4, condition_types=('text', 'image'))       # the pipeline's own mixing: text 0.4
    set_mixing(real.unet, 0.4)
    g = torch.Generator().manual_seed(1)
    z, cond = torch.randn(2, 4, 8, 8, generator=g), torch.randn(4, 77 + 257, 32, generator=g)
    ours_s, ref_s = ddim_scheduler(real.scheduler_config), DDIMScheduler.from_pretrained(f/'scheduler')
    ours_s.set_timesteps(50); ref_s.set_timesteps(50)
    t = ref_s.timesteps[20]
    with torch.no_grad():
        ours = denoise_step(real, ours_s, z, t, cond, 7.5)
        e_u, e_c = pipe.image_unet(torch.cat([z, z]), t, encoder_hidden_states=cond).sample.chunk(2)
        ref = ref_s.step(e_u + 7.5*(e_c - e_u), t, z, eta=0.0).prev_sample
        torch.testing.assert_close(ours, ref, rtol=0, atol=1e-5)
        set_mixing(real.unet, 0.0)                                                 # the text UNet's attention does take part
        assert (denoise_step(real, ours_s, z, t, cond, 7.5) - ref).abs().max() > 1e-3

def test_without_captions_stage2_is_guided_by_images_only(tiny_root, tmp_path):
    from neuro_decode.nsd import prepare_subject
    from neuro_decode.features import extract_features
    from neuro_decode.regress import fit_stage1
    from neuro_decode.stage1 import stage1_images
    rd = tmp_path/'run'
    for s in (1, 7): prepare_subject(tiny_root, s, rd, progress=False)              # a run with captions first
    extract_features(rd, (15,), progress=False); fit_clip_regressors(rd, 1, device='cpu')
    assert (rd/'sub-01'/'pred_clip_text.h5').exists()
    for s in (1, 7): prepare_subject(tiny_root, s, rd, progress=False, captions=False)   # then prepared again without
    files = extract_features(rd, (15,), progress=False)
    assert 'clip_text' not in files and not (rd/'features'/'clip_text.h5').exists()    # no old text embeddings left to use
    scores = fit_clip_regressors(rd, 1, device='cpu')
    assert 'text_ident_restd' not in scores and not (rd/'sub-01'/'pred_clip_text.h5').exists() and scores['vision_ident_restd'] > 0.6
    fit_stage1(rd, 1, 'ridge', 15, device='cpu', progress=False)
    stage1_images(rd, 1, 'ridge', 15, device='cpu', progress=False)
    f = run_stage2(rd, 1, 'ridge', 15, steps=6, progress=False)
    assert json.loads((f/'index.json').read_text())['text_strength'] == 0.0 and len(list(f.glob('*.png'))) == 12

def test_ours_clip_uses_the_papers_clip_networks_fitted_on_training_images_only(tiny_root, tmp_path, monkeypatch):
    """"Ours (CLIP)": the paper's GRU networks (256 units each way, dropout 0.5, batches of 128, no augmentation) from the
    betas to the text and vision embeddings, trained on the training images only (stopped early on their validation split,
    not on the test set as the paper's scripts), then stage 2 from the GRU's stage-1 image guided by their embeddings, in a
    folder and under a metrics name of its own."""
    import neuro_decode.regress as R
    from neuro_decode.config import ConfigError
    from neuro_decode.nsd import prepare_subject, load_prep
    from neuro_decode.features import extract_features
    from neuro_decode.stage1 import stage1_images
    from neuro_decode.stage2 import fit_clip_networks, clip_net_config, CLIP_NET
    from neuro_decode.metrics import folder_info
    rd = tmp_path/'run'
    for s in (1, 7): prepare_subject(tiny_root, s, rd, progress=False)
    extract_features(rd, (15,), progress=False)
    R.fit_stage1(rd, 1, 'gru', 15, cfg=R.TrainConfig(max_epochs=3), device='cpu', progress=False)
    stage1_images(rd, 1, 'gru', 15, device='cpu', progress=False)
    seen, train = [], R.train_network
    def spy(kind, X, Y, cfg=None, *a, **kw): seen.append((kind, np.array(X), cfg, kw.get('model_kw'))); return train(kind, X, Y, cfg, *a, **kw)
    monkeypatch.setattr(R, 'train_network', spy)
    scores = fit_clip_networks(rd, 1, clip_net_config(3), device='cpu')
    prep = load_prep(rd/'sub-01'/'prep.h5')
    assert [s[0] for s in seen] == ['gru', 'gru'] and all(np.array_equal(s[1], prep.train_betas) for s in seen)
    c = seen[0][2]
    assert (c.batch, c.noise_sd, c.mask_p, c.val_frac, c.lr, c.weight_decay, c.stop_patience) == (128, 0., 0., 0.1, 1e-3, 5e-6, 12)
    net = R.GRURegressor(50, 77*64, **seen[0][3])
    assert (net.gru1.hidden_size, net.gru2.input_size, net.head.fc1.in_features, net.head.fc2.out_features, net.drop.p) == (256, 512, 512, 77*64, 0.5)
    assert np.isfinite([scores['text_ident_restd'], scores['vision_token_r_restd']]).all() and scores['vision_epochs'] >= 1
    t, ids, _ = load_clip_predictions(rd, 1, 'text', by='gru')
    assert t.shape == (12, 77, 64) and np.array_equal(ids, prep.test_ids)
    f = run_stage2(rd, 1, 'gru', 15, clip='gru', steps=6, progress=False)
    assert f.name == 'stage2_gru_L15_clipgru' and folder_info(f)['model'] == 'gru+clip-gru' and len(list(f.glob('*.png'))) == 12
    with pytest.raises(ConfigError, match=r"clip 'cnn': expected one of \('ridge', 'gru'\)"): run_stage2(rd, 1, 'gru', 15, clip='cnn')
    with pytest.raises(ConfigError, match='pred_clip_vision.h5: missing; fit the CLIP regressors first'): run_stage2(rd, 1, 'gru', 15, steps=6, progress=False)
