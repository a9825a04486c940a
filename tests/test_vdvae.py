"The VDVAE (05_vdvae): the official configuration's latent layout, checkpoint loading and its errors."
import numpy as np, pytest, torch
from neuro_decode.vdvae import (VDVAE, IMAGENET64, SMALL, latent_dim, latent_shapes, encode_latents, decode_latents,
                                split_latents, flatten_latents, load_vdvae, save_vdvae, WeightsError, VDVAE_URL)

def test_full_size_model_latents():
    "The real ImageNet-64 configuration with random weights: 13,344 and 91,168 values and every block's shape."
    torch.manual_seed(0)
    m = VDVAE(IMAGENET64).eval()
    assert sum(p.numel() for p in m.parameters()) == 125_005_860
    img = (np.random.default_rng(0).uniform(size=(1, 425, 425, 3))*255).astype(np.uint8)
    lat31 = encode_latents(m, img, 31, progress=False)
    assert latent_dim(IMAGENET64, 15) == 13344 and lat31.shape == (1, 91168)
    zs = split_latents(lat31, IMAGENET64, 31)
    want = [(16, 1, 1)]*2 + [(16, 4, 4)]*4 + [(16, 8, 8)]*8 + [(16, 16, 16)]*16 + [(16, 32, 32)]
    assert [tuple(z.shape[1:]) for z in zs] == want == latent_shapes(IMAGENET64, 31)
    np.testing.assert_array_equal(encode_latents(m, img, 15, progress=False), lat31[:, :13344])   # a prefix

def test_injected_latents_steer_the_decoder():
    "Decoding depends on the injected latents (and only on the seed otherwise)."
    torch.manual_seed(1)
    m = VDVAE(SMALL).eval()
    with torch.no_grad():     # make the random model's output depend visibly on z
        for p in m.decoder.parameters(): p.add_(torch.randn_like(p)*0.05)
    z = np.random.default_rng(0).normal(size=(2, latent_dim(SMALL, 15))).astype(np.float32)
    a, b = decode_latents(m, z, 15, progress=False), decode_latents(m, z, 15, progress=False)
    np.testing.assert_array_equal(a, b)
    c = decode_latents(m, z*0, 15, progress=False)
    assert np.abs(a.astype(int) - c).mean() > 1

def test_split_rejects_wrong_sizes():
    with pytest.raises(ValueError, match=r'expected \(N, 13344\) for the first 15 blocks'):
        split_latents(np.zeros((2, 100)), IMAGENET64, 15)

def test_official_format_round_trip(tmp_path):
    "A torch-saved state dict with openai's key names (and a DDP 'module.' prefix) loads with weights_only."
    torch.manual_seed(2)
    m = VDVAE(SMALL).eval()
    p = tmp_path/'small-model-ema.th'
    torch.save({'module.' + k: v for k, v in m.state_dict().items()}, p)
    m2 = load_vdvae(p, SMALL, device='cpu')
    img = (np.random.default_rng(1).uniform(size=(2, 64, 64, 3))*255).astype(np.uint8)
    np.testing.assert_array_equal(encode_latents(m, img, 15, progress=False), encode_latents(m2, img, 15, progress=False))
    s = save_vdvae(m, tmp_path/'m.safetensors')
    np.testing.assert_array_equal(encode_latents(load_vdvae(s), img, 15, progress=False), encode_latents(m, img, 15, progress=False))

def test_weight_errors_name_the_file(tmp_path):
    with pytest.raises(WeightsError, match=r'imagenet64-iter-1600000-model-ema\.th: missing; .*' + VDVAE_URL.split('//')[1].split('/')[0]):
        load_vdvae(tmp_path/'imagenet64-iter-1600000-model-ema.th')
    m = VDVAE(SMALL)
    p = tmp_path/'wrong.th'
    torch.save(m.state_dict(), p)
    with pytest.raises(WeightsError, match=r'wrong\.th: does not match the VDVAE configuration .* shape mismatches'):
        load_vdvae(p, IMAGENET64)
    s = save_vdvae(m, tmp_path/'t.safetensors')
    s.write_bytes(s.read_bytes()[:1000])
    with pytest.raises(WeightsError, match=r't\.safetensors: unreadable or truncated'):
        load_vdvae(s)
    p.write_bytes(p.read_bytes()[:500])
    with pytest.raises(WeightsError, match=r'wrong\.th: unreadable or truncated'):
        load_vdvae(p, SMALL)
    import pickle
    class Evil:
        def __reduce__(self): return (print, ('pwned',))
    e = tmp_path/'evil.th'
    e.write_bytes(pickle.dumps({'x': Evil()}, protocol=2))
    with pytest.raises(WeightsError, match='unreadable or truncated'):     # weights_only refuses to unpickle code
        load_vdvae(e, SMALL)
