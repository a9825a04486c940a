"The GLM (03_glm) as a user runs it: accuracy against the simulator's truth, agreement with a plain loop, bad input."
import json, shutil, warnings
import numpy as np, nibabel as nib, pytest, torch
from neuro_decode.config import ConfigError
from neuro_decode.nsd import Layout, write_nifti
from neuro_decode.simulate import TR
from neuro_decode.nsd import NSDFormatError
from neuro_decode.glm import (fit_glm, fit_voxel_loop, GLMInputError, SessionDesign, TYPES, tail_threshold, noise_pool,
                              pc_voxels)
from neuro_decode.nsd import glm_subject, glm_stamp, glm_done, load_session
from neuro_decode.simulate import toy_session, beta_recovery, glm_accuracy

def test_d_beats_a_and_hrfs_are_recovered(tiny_root):
    for s in (1, 7):
        acc = glm_accuracy(tiny_root, s)
        assert acc.loc['D', 'median_r'] > acc.loc['A', 'median_r'] + 0.02, acc
        assert acc.loc['D', 'median_r'] > 0.5
        assert acc.loc['D', 'hrf_peak_r'] > 0.3, acc            # chosen latencies follow the true ones (chance: 0)

def test_outputs_in_nsd_layout(tiny_root):
    lay = Layout(tiny_root)
    roi = np.asarray(nib.load(lay.roi(1)).dataobj)
    for t, kind in TYPES.items():
        b = nib.load(lay.betas(1, 1, 'nii.gz', kind))
        assert b.shape == roi.shape + (144,) and b.get_data_dtype() == np.int16
        assert (lay.betas_dir(1, kind)/'R2_session01.nii.gz').exists()
    hi = np.asarray(nib.load(lay.betas_dir(1, TYPES['D'])/'HRFindex_session01.nii.gz').dataobj)
    assert hi[roi > 0].min() >= 1 and hi.max() <= 20                 # 1-based like NSD
    info = json.loads(glm_stamp(tiny_root, 1).read_text())
    assert info['per_session']['1']['n_trials'] == 144 and glm_done(tiny_root, 1)

def test_vectorised_equals_voxel_loop():
    Y, d, _ = toy_session(60, n_runs=3, n_vols=120, seed=4)
    res = fit_glm(Y, d, n_pcs=2, progress=False, device='cpu')
    h, b, r2 = fit_voxel_loop(Y, d, np.arange(6))
    np.testing.assert_array_equal(h, res.hrf_index_b[:6])
    np.testing.assert_allclose(b, res.betas['B'][:, :6], atol=2e-3)
    np.testing.assert_allclose(r2, res.r2['B'][:6], atol=1e-5)

def test_glmsingle_style_hrf_choice_equals_voxel_loop():
    "hrf_design='trials' chooses each voxel's HRF by the single-trial fit, as GLMsingle does, and the loop agrees."
    Y, d, _ = toy_session(60, n_runs=3, n_vols=120, seed=4)
    res = fit_glm(Y, d, n_pcs=2, progress=False, device='cpu', hrf_design='trials')
    h, b, _ = fit_voxel_loop(Y, d, np.arange(6), hrf_design='trials')
    np.testing.assert_array_equal(h, res.hrf_index_b[:6])
    np.testing.assert_allclose(b, res.betas['B'][:, :6], atol=2e-3)
    with pytest.raises(GLMInputError, match='hrf_design'): fit_glm(Y, d, progress=False, device='cpu', hrf_design='voxels')

def test_chunking_does_not_change_results():
    Y, d, _ = toy_session(120, n_runs=3, n_vols=120, seed=5)
    a = fit_glm(Y, d, n_pcs=3, chunk=4096, progress=False, device='cpu')
    b = fit_glm(Y, d, n_pcs=3, chunk=17, progress=False, device='cpu')
    assert a.n_pcs == b.n_pcs
    for t in 'ABCD': np.testing.assert_allclose(a.betas[t], b.betas[t], atol=1e-4)

def test_toy_accuracy_ordering():
    Y, d, tr = toy_session(400, n_runs=4, n_vols=240, seed=2)
    res = fit_glm(Y, d, progress=False, device='cpu')
    act = tr['active']
    r = {t: np.median(beta_recovery(res.betas[t][:, act], tr['trial_betas'][:, act])) for t in 'ABCD'}
    assert r['D'] > r['C'] > r['A'] and r['D'] > r['A'] + 0.05, r
    assert not act[res.pool].any()                    # the noise pool holds only voxels without signal

def test_tail_threshold_is_the_mixture_crossing():
    rng = np.random.default_rng(3)
    v = np.r_[rng.normal(0, 1, 40000), rng.normal(6, 1, 20000)]
    # equal widths, weights 2:1: the posteriors cross at (0 + 6)/2 + ln(2)/6
    assert abs(tail_threshold(v) - (3 + np.log(2)/6)) < 0.1
    assert abs(tail_threshold(v + 10) - (13 + np.log(2)/6)) < 0.1   # moves with the data
    # and scales with it: R2 fractions have variances near 1e-7, far below sklearn's default covariance floor
    assert abs(tail_threshold(1e-4*v)/1e-4 - (3 + np.log(2)/6)) < 0.1
    r2 = np.r_[rng.chisquare(1, 3000)/1500, rng.uniform(.005, .05, 1000)]     # null voxels' on/off R2 and responsive ones
    assert np.isclose(tail_threshold(100*r2)/100, tail_threshold(r2), rtol=0.02)   # R2 in % or as a fraction
    assert np.isnan(tail_threshold(np.array([np.nan, np.inf])))

def glmsingle_style_threshold(v, seed=0):
    "A reference written from GLMsingle's findtailthreshold: raw values, no variance floor, 500 points over the data's range."
    from sklearn.mixture import GaussianMixture
    gm = GaussianMixture(2, n_init=3, tol=1e-10, reg_covar=0, random_state=seed).fit(v[:, None])
    grid = np.linspace(min(np.percentile(v, 1), gm.means_.min()), max(np.percentile(v, 99), gm.means_.max()), 500)
    post = gm.predict_proba(grid[:, None])
    right = int(post[-1, 1] > 0.5)                          # the component that wins at the right end
    return grid[np.flatnonzero(post[:, right] <= 0.5)[-1]]

@pytest.mark.filterwarnings('ignore::sklearn.exceptions.ConvergenceWarning')
def test_tail_threshold_matches_glmsingles_rule():
    rng = np.random.default_rng(5)
    for n_null, n_resp, hi in ((3000, 1000, .05), (1500, 2500, .2), (6000, 300, .02)):
        r2 = 100*np.r_[rng.chisquare(1, n_null)/1500, rng.uniform(.004, hi, n_resp)]   # on/off R2 in %, as GLMsingle has it
        ref, ours = glmsingle_style_threshold(r2), 100*tail_threshold(r2/100)       # ours on fractions, as fit_glm has them
        step = (np.percentile(r2, 99) - np.percentile(r2, 1))/499      # the reference's grid spacing
        assert abs(ours - ref) < max(0.05*ref, 2*step), (ours, ref)

def test_glmsingle_pool_and_component_voxel_rules():
    rng = np.random.default_rng(4)
    r2 = np.r_[rng.uniform(0, .002, 300), rng.uniform(.2, .4, 100)]          # 300 silent voxels, 100 responsive
    mean = np.r_[np.full(250, 1000.), np.full(50, 10.), np.full(100, 1000.)]  # 50 silent voxels outside the brain
    pool = noise_pool(r2, 1000, rule='tail', mean=mean)
    assert pool[:250].all() and not pool[250:].any()                       # bright and below the threshold
    assert noise_pool(r2, 1000)[:300].all()                                # the F-test keeps dim silent voxels
    assert (pc_voxels(np.zeros(400), pool, r2, 'tail') == (np.arange(400) >= 300)).all()   # the responsive ones
    top = pc_voxels(np.zeros(400), pool, r2, 'tail', thresh=1.)            # nobody above: the 100 best by on/off R2
    assert top.sum() == 100 and top[300:].all()
    with pytest.raises(GLMInputError, match="expected one of"): noise_pool(r2, 1000, rule='gmm')
    Y, d, tr = toy_session(200, n_runs=4, n_vols=200, seed=5)
    for bad in (dict(pool_rule='gmm'), dict(pc_rule='median'), dict(hrf_design='runs')):
        with pytest.raises(GLMInputError, match=f"{next(iter(bad))} '{next(iter(bad.values()))}': expected one of"):
            fit_glm(Y, d, progress=False, device='cpu', **bad)
    with pytest.raises(GLMInputError, match="hrf_design"): fit_voxel_loop(Y, d, voxels=[0], hrf_design='runs')
    res = fit_glm(Y, d, pool_rule='tail', pc_rule='tail', progress=False, device='cpu')
    assert res.valid.all()
    assert (res.pool == noise_pool(res.onoff_r2, 1, rule='tail', mean=res.mean_signal)).all()   # the fit uses the rule
    act = tr['active']
    assert not act[res.pool].any()                    # strong responses: GLMsingle's pool holds no responsive voxel either
    r = {t: np.median(beta_recovery(res.betas[t][:, act], tr['trial_betas'][:, act])) for t in 'AD'}
    assert r['D'] > r['A'] + 0.05, r

def test_without_repeats_warns_and_uses_ols():
    Y, d, _ = toy_session(80, n_runs=2, n_vols=150, seed=1)
    d1 = SessionDesign(d.tr, d.run_lengths, d.onsets, np.arange(d.n_trials))     # every trial a new image
    with pytest.warns(UserWarning, match='no condition repeats across runs'):
        res = fit_glm(Y, d1, progress=False, device='cpu')
    assert res.n_pcs == 0 and (res.frac == 1).all()
    np.testing.assert_allclose(res.betas['D'], res.betas['B'], atol=1e-4)

def test_bad_voxels_are_counted_not_fatal():
    Y, d, _ = toy_session(50, n_runs=2, n_vols=150, seed=3)
    Y[:, 3] = np.nan; Y[5, 4] = np.inf; Y[:, 7] = 0; Y[:, 9] = 800
    with pytest.warns(UserWarning, match=r'skipped 4 of 50 voxels \(2 with NaN/inf, 1 zero or negative mean, 1 constant\)'):
        res = fit_glm(Y, d, n_pcs=1, progress=False, device='cpu')
    assert not res.valid[[3, 4, 7, 9]].any() and (res.betas['D'][:, [3, 4, 7, 9]] == 0).all()
    assert np.isfinite(res.betas['D']).all()

def test_bad_shapes_and_designs():
    Y, d, _ = toy_session(30, n_runs=2, n_vols=150, seed=3)
    with pytest.raises(GLMInputError, match='volumes of data but the design has 300'): fit_glm(Y[:-1], d)
    with pytest.raises(GLMInputError, match='no events'):
        fit_glm(Y, SessionDesign(d.tr, d.run_lengths, [np.array([]), np.array([])], np.array([], int)))
    with pytest.raises(GLMInputError, match='no voxel has a usable'): fit_glm(np.zeros_like(Y), d)
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match='CUDA is not available'): fit_glm(Y, d, device='cuda')

def test_file_errors_name_the_file(tiny_copy):
    lay = Layout(tiny_copy)
    p = lay.design(1, 1, 3)
    lines = p.read_text().splitlines()
    p.write_text('\n'.join(lines + ['0', '0']) + '\n')                # design longer than the run
    with pytest.raises(NSDFormatError, match=r'design_session01_run03\.tsv: \d+ lines but its time series has \d+ volumes'):
        load_session(tiny_copy, 1, 1)
    p.write_text('\n'.join(lines[:-2]) + '\n')                       # shorter: the run's last volumes are dropped, as NSD's notes say
    assert load_session(tiny_copy, 1, 1).design.run_lengths[2] == len(lines) - 2
    p.write_text('\n'.join(['x'] + lines[1:]) + '\n')
    with pytest.raises(NSDFormatError, match=r'run03\.tsv: line 1 reads .x.; expected one non-negative integer'):
        load_session(tiny_copy, 1, 1)
    p.write_text('\n'.join(lines) + '\n')
    ts = lay.timeseries(1, 1, 5)
    ts.write_bytes(ts.read_bytes()[:3000])                           # truncated NIfTI
    with pytest.raises(NSDFormatError, match=r'timeseries_session01_run05\.nii\.gz: unreadable or truncated'):
        glm_subject(tiny_copy, 1, out_root=tiny_copy, into_dataset=True, progress=False)
    lay.timeseries(1, 1, 5).unlink()
    with pytest.raises(NSDFormatError, match=r'session 1 lacks run\(s\) \[5\]'):
        glm_subject(tiny_copy, 1, out_root=tiny_copy, into_dataset=True, progress=False)
    with pytest.raises(ConfigError, match='unknown subject 2'):
        glm_subject(tiny_copy, 2, out_root=tiny_copy, into_dataset=True, progress=False)

def test_failure_keeps_earlier_outputs(tiny_copy):
    "A failed refit leaves the previous betas in place and marks the subject as not done."
    lay = Layout(tiny_copy)
    before = lay.betas(7, 1, 'hdf5', TYPES['D']).read_bytes()
    for r in range(1, 13): lay.design(7, 1, r).write_text('0\n'*len(lay.design(7, 1, r).read_text().splitlines()))
    with pytest.raises(GLMInputError, match='the design has no events'):
        glm_subject(tiny_copy, 7, out_root=tiny_copy, into_dataset=True, progress=False)
    assert lay.betas(7, 1, 'hdf5', TYPES['D']).read_bytes() == before
    assert not glm_done(tiny_copy, 7)

def test_nan_voxels_in_files_warn(tiny_copy):
    lay = Layout(tiny_copy)
    f = lay.timeseries(1, 1, 2)
    img = nib.load(f); data = np.asarray(img.dataobj).astype(np.float32)
    bx = np.argwhere(data[..., 0] > 0)[:3]
    for x, y, z in bx: data[x, y, z, 4] = np.nan
    write_nifti(f, data, tr=TR)
    with pytest.warns(UserWarning, match='skipped 3 of'):
        glm_subject(tiny_copy, 1, types='D', out_root=tiny_copy, into_dataset=True, progress=False)
    b = np.asarray(nib.load(lay.betas(1, 1, 'nii.gz', TYPES['D'])).dataobj)
    assert all((b[x, y, z] == 0).all() for x, y, z in bx)

def test_hrf_chosen_again_after_denoising_helps():
    "Step 4: with the noise components projected out, chosen HRF latencies are closer to the truth, and C and D are no worse."
    from neuro_decode.hrf import peak_times, hrf_library, glm_library
    Y, d, tr = toy_session(300, n_runs=4, n_vols=200, seed=1)
    act = tr['active']
    on, off = (fit_glm(Y, d, rechoose=rc, progress=False, device='cpu') for rc in (True, False))
    err = lambda r: np.mean(np.abs(peak_times(glm_library())[r.hrf_index[act]] - peak_times(hrf_library())[tr['hrf_index'][act]]))
    assert err(on) < err(off) - 0.05, (err(on), err(off))
    med = lambda r, k: np.median(beta_recovery(r.betas[k][:, act], tr['trial_betas'][:, act]))
    assert med(on, 'C') >= med(off, 'C') and med(on, 'D') >= med(off, 'D') - 0.002
    np.testing.assert_array_equal(on.betas['B'], off.betas['B'])          # B does not change
    np.testing.assert_array_equal(on.hrf_index_b, off.hrf_index)

def test_noise_component_sweep_equals_direct_solves():
    "The Woodbury sweep gives the same betas as solving each k's downdated system from scratch."
    from neuro_decode.glm import _pc_sweep
    g = torch.Generator().manual_seed(0)
    X, E = torch.randn(200, 30, generator=g, dtype=torch.float64), torch.linalg.qr(torch.randn(200, 12, generator=g, dtype=torch.float64))[0]
    y = torch.randn(200, 5, generator=g, dtype=torch.float64)
    G, XE, b, c = X.T @ X, X.T @ E, X.T @ y, E.T @ y
    for k, beta in enumerate(_pc_sweep(G, XE, b, c, n_runs=3, k_max=4)):
        W = torch.cat([X, E[:, :3*k]], 1)
        direct = torch.linalg.lstsq(W, y).solution[:30]
        torch.testing.assert_close(beta, direct, rtol=1e-8, atol=1e-10)

def test_custom_library_and_its_errors(tmp_path):
    "A library read from a GLMsingle-style table is used as given; a malformed table names the file."
    from neuro_decode.hrf import read_hrf_library, hrf_library
    p = tmp_path/'lib.tsv'
    np.savetxt(p, hrf_library(n=5, dt=0.1).T, delimiter='\t')
    lib = read_hrf_library(p)
    assert lib.shape[0] == 5
    Y, d, _ = toy_session(40, n_runs=3, n_vols=120, seed=2)
    res = fit_glm(Y, d, lib=lib, n_pcs=2, progress=False, device='cpu')
    assert res.hrf_index.max() <= 4 and res.hrf_index_b.max() <= 4
    p.write_text('0.0\t1.0\nnan\t2\n' + '0\t0\n'*20)
    with pytest.raises(ValueError, match='lib.tsv'): read_hrf_library(p)
    with pytest.raises(FileNotFoundError, match='nope.tsv'): read_hrf_library(tmp_path/'nope.tsv')
