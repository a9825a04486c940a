import json
import numpy as np, h5py, nibabel as nib, pytest
from scipy.io import loadmat
from neuro_decode.simulate import (simulate_nsd, Layout, make_voxels, sim_spec, make_schedule, STAMP,
                                   event_regressors, hrf_library, TR)
import neuro_decode.simulate as simmod
from neuro_decode.nsd import load_expdesign, trial_image_ids

def test_layout_files_exist(tiny_root):
    lay = Layout(tiny_root)
    for p in (lay.expdesign, lay.stim_info, lay.stimuli, lay.annotations/'captions_train2017.json',
              lay.roi(1), lay.betas(7, 1), lay.betas(7, 1, 'hdf5'), lay.timeseries(1, 1, 12), lay.design(1, 1, 12)):
        assert p.exists(), p
    assert not lay.roi(2).exists()                     # tiny simulates subjects 1 and 7 only
    with h5py.File(lay.stimuli) as f:
        assert f['imgBrick'].shape[1:] == (425, 425, 3) and f['imgBrick'].dtype == np.uint8

def test_design_files_match_truth(tiny_root):
    "Every trial's image id, from expdesign and from the per-run design files, is the simulator's."
    lay, ed = Layout(tiny_root), load_expdesign(tiny_root)
    for s in (1, 7):
        with h5py.File(lay.truth(s)) as f: truth, sess, run = f['trial_image'][()], f['trial_session'][()], f['trial_run'][()]
        np.testing.assert_array_equal(trial_image_ids(ed, s), truth)
        for r in range(1, 13):
            d = np.loadtxt(lay.design(s, 1, r), dtype=int)
            np.testing.assert_array_equal(d[d > 0] - 1, truth[(sess == 1) & (run == r)])     # NSD's encoding: 1-based 73k ids
            slots = (np.flatnonzero(d) - simmod.PRE_VOLS)//simmod.VOLS_PER_TRIAL
            np.testing.assert_array_equal(slots, np.flatnonzero(ed.stimpattern[0, r - 1]))    # where stimpattern says

def test_timeseries_carry_signal(tiny_root):
    "A responsive voxel's BOLD correlates with its true-beta-weighted regressors far above noise voxels."
    lay = Layout(tiny_root)
    with h5py.File(lay.truth(1)) as f:
        bidx, kind, hrf, tb, run = (f[k][()] for k in ('brain_index', 'kind', 'hrf_index', 'trial_betas', 'trial_run'))
    img = nib.load(lay.timeseries(1, 1, 1))
    assert abs(img.header.get_zooms()[3] - 4/3) < 1e-4
    ts = np.asarray(img.dataobj).reshape(-1, img.shape[3])[bidx].astype(float)
    d = np.loadtxt(lay.design(1, 1, 1), dtype=int)
    lib = hrf_library()
    def r(v, w):   # BOLD of voxel w against the true response of voxel v
        X = event_regressors(np.flatnonzero(d)*TR, len(d), TR, lib[hrf[v]])
        pred = X @ tb[run == 1, v]
        y = ts[w] - np.polyval(np.polyfit(np.arange(len(d)), ts[w], 3), np.arange(len(d)))
        return np.corrcoef(pred, y)[0, 1]
    roi = np.flatnonzero(kind > 0); off = np.flatnonzero((kind == 0) & (tb.std(0) == 0))[:len(roi)]
    assert np.median([r(v, v) for v in roi]) > 0.3          # a voxel follows its own trial responses (drift is not cubic)
    assert np.median([abs(r(v, w)) for v, w in zip(roi, off)]) < 0.2   # an unresponsive voxel does not

def test_subjects_differ_and_seven_is_noisiest(tiny_root):
    lay = Layout(tiny_root)
    with h5py.File(lay.truth(1)) as a, h5py.File(lay.truth(7)) as b:
        assert a['noise_sd'][()].mean() * 1.3 < b['noise_sd'][()].mean()
        assert not np.array_equal(a['brain_index'][()], b['brain_index'][()])

def test_same_seed_same_world(tmp_path, tiny_root):
    simulate_nsd(tmp_path/'again', 'tiny', seed=0, progress=False)
    with h5py.File(Layout(tmp_path/'again').truth(7)) as a, h5py.File(Layout(tiny_root).truth(7)) as b:
        np.testing.assert_array_equal(a['trial_betas'][()], b['trial_betas'][()])

def test_refuses_to_overwrite_and_leaves_nothing_on_failure(tmp_path, monkeypatch):
    (tmp_path/'full').mkdir(); (tmp_path/'full'/'mine.txt').write_text('x')
    with pytest.raises(FileExistsError, match='not empty'): simulate_nsd(tmp_path/'full', 'tiny', progress=False)
    assert (tmp_path/'full'/'mine.txt').read_text() == 'x'
    def boom(*a, **k): raise RuntimeError('disk full')
    monkeypatch.setattr(simmod, 'simulate_subject', boom)
    with pytest.raises(RuntimeError): simulate_nsd(tmp_path/'new', 'tiny', progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ['full']     # no half-written dataset

def test_unknown_preset():
    from neuro_decode.config import ConfigError
    with pytest.raises(ConfigError, match='real data'): sim_spec('nsd')

def test_open_world_is_simulated_and_read_back(tmp_path, tiny_root):
    """The tiny preset in the open scene space (the default; the grid world on request): its scenes, captions and higher
    voxels' tuning come from that world, the stamp names it, and the early and higher voxels keep their known answers."""
    from neuro_decode.scenes import load_scenes, OpenScene, OPEN_GROUPS, open_captions, novelty
    from neuro_decode.nsd import load_captions, prepare_subject, load_prep, read_stimuli, glm_subject
    from neuro_decode.simulate import feature_maps
    from neuro_decode.rsa import rdm, rdm_correlation
    from dataclasses import asdict
    root = simulate_nsd(tmp_path/'open', 'tiny', seed=0, progress=False, world='open')
    assert json.loads((root/STAMP).read_text())['spec']['world'] == 'open'
    assert json.loads((tiny_root/STAMP).read_text())['spec']['world'] == 'open'            # the default since version 6
    grid = simulate_nsd(tmp_path/'grid', 'tiny', seed=0, progress=False, world='grid')     # the earlier world, on request
    assert json.loads((grid/STAMP).read_text())['spec']['world'] == 'grid' and load_scenes(grid)[0].name == 'grid'
    world, scenes = load_scenes(root)
    assert world.name == 'open' and all(isinstance(s, OpenScene) for s in scenes) and len(scenes) == 12 + 2*36
    with h5py.File(Layout(root).truth(1)) as f: sem, kind = f['sem_weights'][()], f['kind'][()]
    assert sem.shape[1] == sum(OPEN_GROUPS) and np.abs(sem[kind == 2]).sum() > 0 and not sem[kind != 2].any()
    caps = load_captions(root, np.arange(len(scenes)))
    assert all(s.objects and max(s.objects, key=lambda o: o.r).cls in row[0] for s, row in zip(scenes, caps))
    ed = load_expdesign(root)
    test = np.unique(ed.sharedix); train = np.setdiff1d(np.unique(ed.subjectim[ed.subjectim >= 0]), test)
    r = novelty([asdict(scenes[i]) for i in test], [caps[i] for i in test], [asdict(scenes[i]) for i in train], [caps[i] for i in train])
    assert min(r.values()) >= .95, r
    glm_subject(root, 1, out_root=root, into_dataset=True, progress=False)
    prep = load_prep(prepare_subject(root, 1, tmp_path/'prep', progress=False))
    with h5py.File(Layout(root).truth(1)) as f: bidx = f['brain_index'][()]
    vk = kind[np.searchsorted(bidx, prep.voxel_index)]
    low = rdm(np.stack([feature_maps(im) for im in read_stimuli(Layout(root).stimuli, prep.test_ids)]).reshape(len(prep.test_ids), -1))
    high = rdm(np.stack([world.semantic(scenes[i]) for i in prep.test_ids]))
    early, higher = rdm(prep.test_betas[:, vk == 1]), rdm(prep.test_betas[:, vk == 2])
    assert rdm_correlation(early, low) > rdm_correlation(higher, low)
    assert rdm_correlation(higher, high) > rdm_correlation(early, high)
