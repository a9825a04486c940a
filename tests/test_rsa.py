"RSA (12_rsa): our RDMs and their comparison agree with rsatoolbox; permutation p-values and intervals behave; the known answer on simulated data."
import json
from pathlib import Path
import numpy as np, h5py, pytest
from neuro_decode.rsa import rdm, upper, rdm_correlation, rdm_permutation_p, rdm_bootstrap_ci
from neuro_decode.config import ConfigError

def test_rdms_and_comparisons_equal_rsatoolbox():
    from rsatoolbox.data import Dataset
    from rsatoolbox.rdm import calc_rdm, compare
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(25, 40)), rng.normal(size=(25, 60))
    b[:, :40] += a
    ra, rb = calc_rdm(Dataset(a), method='correlation'), calc_rdm(Dataset(b), method='correlation')
    np.testing.assert_allclose(upper(rdm(a)), ra.dissimilarities[0], atol=1e-10)
    np.testing.assert_allclose(rdm_correlation(rdm(a), rdm(b)), compare(ra, rb, method='spearman')[0, 0], atol=1e-10)

def test_permutation_and_bootstrap():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(30, 20))
    A, B, C = rdm(x), rdm(x + 0.7*rng.normal(size=x.shape)), rdm(rng.normal(size=(30, 20)))
    assert rdm_permutation_p(A, B, 300) < 0.01 and rdm_permutation_p(A, C, 300) > 0.05
    assert rdm_permutation_p(A, B, 200, seed=4) == rdm_permutation_p(A, B, 200, seed=4)
    lo, hi = rdm_bootstrap_ci(A, B, 200)
    assert lo < rdm_correlation(A, B) < hi and lo > 0
    with pytest.raises(ConfigError, match='NaN'): rdm(np.full((5, 3), np.nan))
    with pytest.raises(ConfigError, match='at least 3'): rdm(np.ones((2, 3)))

def test_known_answer_on_the_simulated_world(tiny_root, tmp_path):
    """Early visual voxels share the geometry of local contrast and colour; higher voxels that of the scenes' semantics
    (on all 48 images of a tiny subject: on its 12 test images alone the open world's 40-d semantics is too coarse a sample)."""
    from neuro_decode.nsd import prepare_subject, load_prep, Layout, read_stimuli
    from neuro_decode.simulate import feature_maps
    from neuro_decode.scenes import load_scenes
    for s in (1, 7):
        prep = load_prep(prepare_subject(tiny_root, s, tmp_path, progress=False))
        with h5py.File(Layout(tiny_root).truth(s)) as f: bidx, kind = f['brain_index'][()], f['kind'][()]
        vk = kind[np.searchsorted(bidx, prep.voxel_index)]
        ids, betas = np.r_[prep.train_ids, prep.test_ids], np.r_[prep.train_betas, prep.test_betas]
        stim = read_stimuli(Layout(tiny_root).stimuli, ids)
        low = rdm(np.stack([feature_maps(im) for im in stim]).reshape(len(stim), -1))
        world, scenes = load_scenes(tiny_root)
        sem = rdm(np.stack([world.semantic(scenes[i]) for i in ids]))
        early, higher = rdm(betas[:, vk == 1]), rdm(betas[:, vk == 2])
        assert rdm_correlation(early, low) > rdm_correlation(higher, low), s
        assert rdm_correlation(higher, sem) > rdm_correlation(early, sem), s
