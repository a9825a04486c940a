"The bundled small models in data/models: checksums, and quality on scenes no model was trained on."
import json, shutil
import numpy as np, pytest, torch
from neuro_decode.config import ConfigError
from neuro_decode.bundled import bundled_dir, bundled_path, sha256, scene_pairs, ssim_grey
from neuro_decode.vdvae import load_vdvae, reconstruct, latent_dim, sample_images, parse_blocks, I64_DEC
from neuro_decode.features import load_vd_encoders, load_eval_clip, eval_image_embeddings, preprocess_clip, vd_image_tokens, vd_text_tokens

HELDOUT_SEED = 98765          # scenes never used in training (training seeds: 1234, 2345, 3456; held-out 1235, 4567)
MIN_SSIM = 0.25               # small VDVAE reconstructions: measured median 0.32 on 100 held-out scenes (90_train_small_models)
MIN_TOP1 = 0.3                # caption->image top-1 among 60 scenes (chance 0.017); measured 0.45 / 0.58 among 200 (91_train_clip)

@pytest.fixture(scope='module')
def heldout():
    return scene_pairs(60, HELDOUT_SEED)

def test_manifest_matches_files():
    man = json.loads((bundled_dir()/'MANIFEST.json').read_text())
    assert {'vdvae_small.safetensors', 'eval_clip_small.safetensors', 'vd_small/text_encoder/model.safetensors',
            'vd_small/image_unet/diffusion_pytorch_model.safetensors', 'vd_small/vae/diffusion_pytorch_model.safetensors'} <= set(man)
    for name, v in man.items():
        assert sha256(bundled_dir()/name) == v['sha256'], name
    assert sum(v["bytes"] for v in man.values()) < 60*2**20          # the budget: 60 MB in all

def test_damaged_file_is_refused(tmp_path):
    d = tmp_path/'models'; shutil.copytree(bundled_dir(), d)
    p = d/'vdvae_small.safetensors'; b = bytearray(p.read_bytes()); b[-10] ^= 1; p.write_bytes(bytes(b))
    with pytest.raises(ConfigError, match=r'vdvae_small\.safetensors: SHA-256 differs'):
        bundled_path('vdvae_small.safetensors', d)
    with pytest.raises(ConfigError, match='not in'):
        bundled_path('nothing.bin', d)

def test_vdvae_reconstructs_heldout_scenes(heldout):
    imgs, _ = heldout
    m = load_vdvae(bundled_path('vdvae_small.safetensors'), device='cpu')
    assert latent_dim(m.cfg, 15) == 13344 and latent_dim(m.cfg, 31) == 91168
    assert parse_blocks(m.cfg.dec_blocks) == parse_blocks(I64_DEC) and len(m.decoder.dec_blocks) == 75   # ImageNet-64's schedule
    s = ssim_grey(imgs, reconstruct(m, imgs))
    assert np.median(s) > MIN_SSIM, np.median(s)
    floor = ssim_grey(imgs, sample_images(m, len(imgs)))              # what a collapsed posterior reconstructs
    assert np.median(s) > np.median(floor) + 0.08, (np.median(s), np.median(floor))

def _retrieval(zi, zt):
    return float(np.mean((zt @ zi.T).argmax(1) == np.arange(len(zi))))

def test_vd_encoders_retrieve_captions(heldout):
    imgs, caps = heldout
    enc = load_vd_encoders(bundled_dir()/'vd_small', device='cpu')
    assert vd_image_tokens(enc, imgs[:2]).shape == (2, 257, enc.dim) and vd_text_tokens(enc, ['a ball']).shape == (1, 77, enc.dim)
    with torch.no_grad():
        zi = torch.nn.functional.normalize(enc.vision(preprocess_clip(imgs, enc)).image_embeds, dim=-1).numpy()
        t = enc.tokenizer([c[0] for c in caps], padding='max_length', max_length=77, truncation=True, return_tensors='pt')
        zt = torch.nn.functional.normalize(enc.text(t.input_ids).text_embeds, dim=-1).numpy()
    assert _retrieval(zi, zt) > MIN_TOP1, _retrieval(zi, zt)

def test_eval_clip_retrieves_captions(heldout):
    import open_clip
    imgs, caps = heldout
    ec = load_eval_clip(bundled_path('eval_clip_small.safetensors'), device='cpu')
    zi = eval_image_embeddings(ec, imgs)
    with torch.no_grad():
        zt = torch.nn.functional.normalize(ec.model.encode_text(open_clip.tokenize([c[0] for c in caps])), dim=-1).numpy()
    assert _retrieval(zi, zt) > MIN_TOP1, _retrieval(zi, zt)

def test_object_observer_is_bundled_and_sees_objects(tmp_path):
    """The object observer of chapter 10a: listed in the manifest with its training record, better than 0.55 on
    open-world scenes of a seed it never saw (chance 1/16), and still well above chance on them blurred to 16 px (it was
    trained with blurred images), at chance on the wrong images; a truncated copy is refused by name."""
    from neuro_decode.objects import load_object_net, object_scenes, object_accuracy, OBJECT_NET
    rec = json.loads(bundled_path(OBJECT_NET).with_suffix('.json').read_text())
    assert rec['heldout_accuracy'] >= .6 and 'open-world' in rec['trained_on']
    net = load_object_net()
    imgs, labels = object_scenes(120, 13579)
    assert object_accuracy(net, imgs, labels).mean() >= .55
    from neuro_decode.metrics import resize
    blur = resize(resize(imgs, 16), 64)
    assert object_accuracy(net, blur, labels).mean() >= .3
    assert object_accuracy(net, imgs, np.roll(labels, 1)).mean() < .25
    bad = tmp_path/OBJECT_NET; bad.write_bytes(bundled_path(OBJECT_NET).read_bytes()[:5000])
    from neuro_decode.vdvae import WeightsError
    with pytest.raises((WeightsError, ConfigError), match=OBJECT_NET.replace('.', r'\.')):
        load_object_net(bad)

def test_default_test_images_are_new_to_every_bundled_model(tiny_root):
    """What the bundled models learned from (redrawn from the seeds in their records) against the test images: the default
    preset's 100 test scenes, and the tiny world's test scenes and captions; 95% or more are new to every model."""
    from dataclasses import asdict
    from neuro_decode.bundled import training_sets
    from neuro_decode.simulate import draw_design, sim_spec
    from neuro_decode.scenes import novelty, load_scenes
    from neuro_decode.nsd import load_expdesign, load_captions
    ed, scenes, _ = draw_design(sim_spec('default'))
    default_test = [asdict(scenes[i - 1]) for i in np.unique(ed['sharedix'])]        # 1-based ids, as in NSD's design file
    assert len(default_test) == 100
    ids = np.unique(load_expdesign(tiny_root).sharedix)
    tiny_test = [asdict(load_scenes(tiny_root)[1][i]) for i in ids]
    tiny_caps = [[c for c in row if c] for row in load_captions(tiny_root, ids)]
    sets = training_sets(rendered=False)
    assert set(sets) == {'vdvae_small', 'eval_clip_small', 'vd_small CLIP encoders', 'vd_small UNet'}
    for name, (sc, caps) in sets.items():
        train = [asdict(x) for x in sc]
        assert novelty(default_test, [['-']]*len(default_test), train, caps)['scenes'] >= .95, name
        assert min(novelty(tiny_test, tiny_caps, train, caps).values()) >= .95, name
