"The eight image metrics (10_metrics): known answers, references, weights from files, intervals, bad input."
import numpy as np, pandas as pd, pytest, torch
from PIL import Image
from skimage.metrics import structural_similarity
from neuro_decode.vdvae import WeightsError
from neuro_decode.stats import corr_matrix, two_way, two_way_identification
from neuro_decode.metrics import (pixcorr, ssim, ssim_bd, _grey, NET_METRICS, build_net, load_net, FeatureNet, load_metric_nets,
                                  Score, paired_test, MetricsError,
                                  check_pairs, read_png, read_shared20, degrade, score_images, GroundTruth, read_metrics,
                                  correlation_distance, net_inputs)

@pytest.fixture(scope='module')
def pairs():
    rng = np.random.default_rng(0)
    gt = (rng.uniform(size=(5, 70, 70, 3))*255).astype(np.uint8)
    rec = np.clip(gt + rng.normal(0, 50, gt.shape), 0, 255).astype(np.uint8)
    return rec, gt

def test_pixel_metrics_equal_references(pairs):
    rec, gt = pairs
    np.testing.assert_allclose(pixcorr(rec, gt), [np.corrcoef(a.ravel()/255., b.ravel()/255.)[0, 1] for a, b in zip(rec, gt)], rtol=1e-10)
    ref2d = [structural_similarity(_grey(a), _grey(b), gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1.0)
             for a, b in zip(rec, gt)]
    np.testing.assert_allclose(ssim(rec, gt), ref2d, rtol=1e-10)
    refbd = [structural_similarity(_grey(a), _grey(b), channel_axis=-1, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                   data_range=1.0) for a, b in zip(rec, gt)]
    np.testing.assert_allclose(ssim_bd(rec, gt), refbd, rtol=1e-10)
    assert np.all(np.abs(ssim(rec, gt) - ssim_bd(rec, gt)) > 1e-3)          # two different metrics
    big = np.stack([np.asarray(Image.fromarray(r).resize((140, 140), Image.BICUBIC)) for r in rec])
    np.testing.assert_allclose(pixcorr(big, gt), pixcorr(np.stack([np.asarray(Image.fromarray(b).resize((70, 70), Image.BICUBIC)) for b in big]), gt))

def test_ssim_known_case():
    "A constant offset of 0.1 on a flat grey image: SSIM is the luminance term (2*0.4*0.5 + C1)/(0.4^2 + 0.5^2 + C1)."
    a = np.full((2, 40, 40, 3), 102, np.uint8); b = np.full((2, 40, 40, 3), 127, np.uint8)
    la, lb = 102/255, 127/255
    want = (2*la*lb + 1e-4)/(la**2 + lb**2 + 1e-4)
    np.testing.assert_allclose(ssim(a, b), want, rtol=1e-9); np.testing.assert_allclose(ssim_bd(a, b), want, rtol=1e-9)

def test_identification_known_answers():
    rng = np.random.default_rng(3)
    F = rng.normal(size=(400, 30))
    assert two_way_identification(F, F).mean() == 1.0
    assert abs(two_way_identification(F[rng.permutation(400)], F).mean() - 0.5) < 0.04
    np.testing.assert_allclose(correlation_distance(F, F), 0, atol=1e-12)
    from scipy.spatial.distance import correlation
    G = F + rng.normal(size=F.shape)
    np.testing.assert_allclose(correlation_distance(G[:5], F[:5]), [correlation(g, f) for g, f in zip(G[:5], F[:5])], rtol=1e-10)

def test_intervals_and_paired_tests_are_seeded_and_sound():
    rng = np.random.default_rng(4)
    F = rng.normal(size=(200, 40))
    good, bad = F + rng.normal(size=F.shape), F + 3*rng.normal(size=F.shape)
    rg, rb = corr_matrix(good, F), corr_matrix(bad, F)
    sg = Score('x', 'x', True, two_way(rg), rg)
    sb = Score('x', 'x', True, two_way(rb), rb)
    assert sg.ci(200, seed=1) == sg.ci(200, seed=1)
    lo, hi = sg.ci(200)
    assert lo < sg.value() < hi
    t = paired_test(sg, sb, 2000, 200)
    assert t['diff'] > 0 and t['lo'] > 0 and t['p'] < 0.01
    null = paired_test(sg, sg, 500, 100)
    assert null['diff'] == 0 and null['p'] > 0.5

@pytest.mark.parametrize('name', ['alexnet2', 'alexnet5', 'inception', 'effnet', 'swav'])   # CLIP: its own test below
def test_each_network_loads_from_a_file_and_taps_its_layer(name, tmp_path):
    "Architectures load from a state dict in a file (weights_only), and the tapped layer has the reference code's size."
    m = NET_METRICS[name]
    net = build_net(m)
    sd = net.state_dict()
    if m.arch == 'swav_resnet50': sd = {'module.' + k: v for k, v in sd.items() if not k.startswith('fc.')}   # SwAV's checkpoint layout
    p = tmp_path/m.file
    if p.suffix == '.safetensors':
        from safetensors.torch import save_file
        save_file({k: v.contiguous() for k, v in sd.items()}, str(p))
    else: torch.save(sd, p)
    del net, sd
    x = (np.random.default_rng(0).uniform(size=(2, 120, 120, 3))*255).astype(np.uint8)
    f = FeatureNet(m, load_net(m, p, 'cpu'))(x)
    assert f.shape == (2, {'alexnet2': 139_968, 'alexnet5': 43_264, 'inception': 2_048, 'effnet': 1_280, 'swav': 2_048, 'clip': 768}[name])

def test_missing_and_wrong_weights(tmp_path):
    nets, missing = load_metric_nets(tmp_path, 'cpu')
    assert set(missing) == set(NET_METRICS) - {'clip_laion'} and 'alexnet-owt-7be5be79.pth' in missing['alexnet2']
    assert not nets                                                     # never a network on random weights, nor a stand-in
    (tmp_path/'metrics').mkdir()
    torch.save(build_net(NET_METRICS['alexnet2']).state_dict(), tmp_path/'metrics'/NET_METRICS['inception'].file)
    with pytest.raises(WeightsError, match='does not match inception_v3'):
        load_metric_nets(tmp_path, 'cpu')
    import pickle
    class Evil:
        def __reduce__(self): return (print, ('pwned',))
    (tmp_path/'metrics'/NET_METRICS['inception'].file).write_bytes(pickle.dumps({'x': Evil()}))
    with pytest.raises(WeightsError, match='unreadable or not a state dict'):
        load_metric_nets(tmp_path, 'cpu')

def test_bad_input(tmp_path, pairs):
    rec, gt = pairs
    with pytest.raises(MetricsError, match='at least 2'): pixcorr(rec[:1], gt[:1])
    with pytest.raises(MetricsError, match='one each'): ssim(rec[:3], gt)
    with pytest.raises(MetricsError, match='different sizes'): check_pairs([rec[0], rec[1][:60]], gt[:2])
    with pytest.raises(MetricsError, match=r'expected \(n, H, W, 3\) uint8'): pixcorr(rec.astype(np.float32), gt)
    Image.fromarray(rec[0]).convert('L').save(tmp_path/'grey.png')
    with pytest.raises(MetricsError, match='grey.png: image mode L; expected RGB'): read_png(tmp_path/'grey.png')
    nets, _ = load_metric_nets(None, 'cpu')
    class NaNNet:
        metric = NET_METRICS['inception']
        def __call__(self, x):
            f = np.zeros((len(x), 2048), np.float32); f[0, 0] = np.nan
            if not np.isfinite(f).all(): raise MetricsError(f"{self.metric.label}: features with NaN or infinite values; expected finite features")
            return f
    with pytest.raises(MetricsError, match='NaN'):
        score_images(rec, GroundTruth(gt, {'inception': NaNNet()}))
    df = pd.DataFrame(dict(run=['/somewhere/else'], metric=['ssim'], value=[0.3], lo=[0.2], hi=[0.4]))
    df.to_csv(tmp_path/'metrics.csv', index=False)
    with pytest.raises(MetricsError, match=r'metrics.csv: made for run'): read_metrics(tmp_path/'metrics.csv', tmp_path)
    (tmp_path/'junk.csv').write_text('a,b\n1,2\n')
    with pytest.raises(MetricsError, match='expected a metrics table'): read_metrics(tmp_path/'junk.csv')

def test_every_metric_falls_on_degraded_real_images():
    real = read_shared20()
    if real is None: pytest.skip('../shared/data/nsd_shared20 absent')
    nets, _ = load_metric_nets(None, 'cpu')
    gt = GroundTruth(real, nets)
    for kind, levels in (('blur', (0, 4, 16)), ('noise', (0, 60, 200))):
        sc = [score_images(degrade(real, kind, l), gt) for l in levels]
        for name in sc[0]:
            sign = 1 if sc[0][name].higher_better else -1
            v = [sign*s[name].value() for s in sc]
            if sc[0][name].r is None: assert v[0] > v[1] > v[2], (kind, name, v)
            else:
                assert v[0] >= v[1] >= v[2], (kind, name, v)
                r = [s[name].own_r.mean() for s in sc]
                assert r[0] > r[1] > r[2], (kind, name, r)

def test_openai_clip_is_built_with_quickgelu_and_recognised_by_content(tmp_path):
    """OpenAI's ViT-L/14 weights give the features of open_clip's own construction for OpenAI state dicts (QuickGELU) to 1e-5,
    from a .safetensors file as the README names it; plain `ViT-L-14` (GELU) loads the same state dict and gives other features."""
    import open_clip
    from open_clip.model import build_model_from_openai_state_dict
    from safetensors.torch import save_file
    from neuro_decode.features import load_eval_clip
    torch.manual_seed(0)                                                  # weights exact in float16: open_clip's builder stores them so
    sd = {k: v.half().float().contiguous() for k, v in open_clip.create_model('ViT-L-14-quickgelu').state_dict().items()}
    (tmp_path/'metrics').mkdir(); p = tmp_path/'metrics'/NET_METRICS['clip'].file
    save_file(sd, str(p))
    x = (np.random.default_rng(0).uniform(size=(2, 100, 100, 3))*255).astype(np.uint8)
    ours = FeatureNet(NET_METRICS['clip'], load_net(NET_METRICS['clip'], p, 'cpu'))(x)
    assert load_eval_clip(p, 'cpu').size == 224                            # the suffix does not make it the small model
    ref = build_model_from_openai_state_dict(dict(sd)).float()
    with torch.no_grad(): r = ref.encode_image(net_inputs(x, NET_METRICS['clip'])).numpy()
    np.testing.assert_allclose(ours, r, atol=1e-5, rtol=0)
    from open_clip.transformer import QuickGELU                           # the same network with GELU, as plain 'ViT-L-14' builds it
    for blk in ref.visual.transformer.resblocks:
        assert isinstance(blk.mlp.gelu, QuickGELU); blk.mlp.gelu = torch.nn.GELU()
    with torch.no_grad(): g = ref.encode_image(net_inputs(x, NET_METRICS['clip'])).numpy()
    assert np.abs(g - r).max() > 1e-3                                     # the wrong activation would not pass this test

def test_eval_clip_file_recognised_by_content_not_suffix(tmp_path):
    from neuro_decode.features import load_eval_clip, read_state_dict
    from neuro_decode.config import bundled_path
    sd = read_state_dict(bundled_path('eval_clip_small.safetensors'))
    torch.save(sd, tmp_path/'small.pt')                                   # the bundled model as a torch file
    a, b = load_eval_clip(bundled_path('eval_clip_small.safetensors'), 'cpu'), load_eval_clip(tmp_path/'small.pt', 'cpu')
    assert a.size == b.size == 64 and all(torch.equal(a.model.state_dict()[k], b.model.state_dict()[k]) for k in sd)
    torch.save({'visual.conv1.weight': torch.zeros(8, 3, 5, 5)}, tmp_path/'other.pt')
    with pytest.raises(WeightsError, match=r'other.pt: not a CLIP we know'):
        load_eval_clip(tmp_path/'other.pt', 'cpu')

def test_stand_ins_only_without_real_weights(tmp_path):
    "With a weights folder the bundled stand-ins are off unless asked for; the independent CLIP is optional, never 'missing'."
    (tmp_path/'metrics').mkdir()
    nets, missing = load_metric_nets(tmp_path, 'cpu')
    assert not nets and 'clip_laion' not in missing and set(missing) == set(NET_METRICS) - {'clip_laion'}
    torch.save(build_net(NET_METRICS['alexnet2']).state_dict(), tmp_path/'metrics'/NET_METRICS['alexnet2'].file)
    nets, missing = load_metric_nets(tmp_path, 'cpu')                       # real weights present: they, and no stand-in
    assert set(nets) == {'alexnet2', 'alexnet5'} and 'alexnet2' not in missing
    nets, _ = load_metric_nets(tmp_path, 'cpu', stand_ins=True)
    assert set(nets) == {'alexnet2', 'alexnet5', 'clip_small', 'vdvae_enc'}
    nets, _ = load_metric_nets(None, 'cpu')
    assert set(nets) == {'clip_small', 'vdvae_enc'}

def test_vdvae_encoder_stand_in_never_decides_the_noise_verdict():
    import pandas as pd
    from neuro_decode.noise import noise_effect, noise_sentence
    rows = []
    for metric, hb, v0, v1 in (('pixcorr', True, .30, .10), ('ssim', True, .40, .20), ('vdvae_enc', True, .80, .85), ('clip', True, .90, .89)):
        for a, v in ((0, v0), (256, v1)):
            rows.append(dict(model='gru', layers=15, stage=2, noise=a, metric=metric, label=metric, value=v, lo=v - .01, hi=v + .01, higher_better=hb))
    s = noise_sentence(noise_effect(pd.DataFrame(rows)))
    assert 'all 2 got worse' in s and 'As in the paper' in s and 'vdvae_enc 0.800 -> 0.850 is shown but not counted' in s, s

def test_report_says_the_published_clip_is_circular():
    import pandas as pd
    from neuro_decode.report import clip_note
    m = pd.DataFrame(dict(metric=['clip', 'pixcorr'], value=[.9, .2]))
    assert 'circular' in clip_note({'metrics': m}) and 'open_clip_vit_l14_laion2b.bin' in clip_note({'metrics': m})
    m = pd.DataFrame(dict(metric=['clip', 'clip_laion'], value=[.9, .8]))
    assert 'scores with an independently trained network' in clip_note({'metrics': m})
    assert 'circular' not in clip_note({'metrics': pd.DataFrame(dict(metric=['clip_small'], value=[.7]))})
    from neuro_decode.report import table4                                   # the independent column reaches the tables
    rows = [dict(subject=1, model='gru', layers=15, stage=2, noise=0., metric=k, label=NET_METRICS[k].label, value=v, lo=v - .1, hi=v + .1)
            for k, v in (('clip', .9), ('clip_laion', .8))]
    assert list(table4({'metrics': pd.DataFrame(rows)}).columns) == [NET_METRICS['clip'].label, NET_METRICS['clip_laion'].label]
