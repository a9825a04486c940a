import re, shutil, warnings
from pathlib import Path
import numpy as np, h5py, nibabel as nib, pytest
from neuro_decode.config import ConfigError
from neuro_decode.nsd import Layout, write_stimuli, write_nifti
from neuro_decode.nsd import (prepare_subject, load_prep, NSDFormatError, read_stimuli, load_expdesign, trial_image_ids,
                              session_betas, load_roi)
from conftest import SHARED

def _nothing_written(out):
    return not any(p.is_file() for p in Path(out).rglob('*')) if Path(out).exists() else True

def test_prepare_matches_truth(tiny_root, tmp_path):
    p = load_prep(prepare_subject(tiny_root, 7, tmp_path, progress=False))
    ed = load_expdesign(tiny_root)
    assert set(p.test_ids) == set(ed.sharedix) and not set(p.train_ids) & set(ed.sharedix)
    assert (p.train_reps == 3).all() and (p.test_reps == 3).all()
    np.testing.assert_allclose(p.train_betas.mean(0), 0, atol=1e-4)
    np.testing.assert_allclose(p.train_betas.std(0, ddof=1), 1, atol=1e-3)
    with h5py.File(Layout(tiny_root).truth(7)) as f:
        ib, ids, bidx = f['image_betas'][()], f['image_ids'][()], f['brain_index'][()]
    truth = ib[[list(ids).index(i) for i in p.train_ids]][:, np.searchsorted(bidx, p.voxel_index)]
    r = [np.corrcoef(truth[:, v], p.train_betas[:, v])[0, 1] for v in range(truth.shape[1])]
    assert np.median(r) > 0.5
    assert all(c[0] for c in p.train_captions) and p.attrs['sessions'] == [1]

def test_nii_and_hdf5_agree(tiny_root, tmp_path):
    a = load_prep(prepare_subject(tiny_root, 1, tmp_path/'a', fmt='nii.gz', progress=False))
    b = load_prep(prepare_subject(tiny_root, 1, tmp_path/'b', fmt='hdf5', progress=False))
    np.testing.assert_array_equal(a.train_betas, b.train_betas); np.testing.assert_array_equal(a.voxel_index, b.voxel_index)

def test_missing_session_file(tiny_copy, tmp_path):
    with pytest.raises(NSDFormatError, match=r'betas_session02\.nii\.gz: missing'):
        prepare_subject(tiny_copy, 1, tmp_path/'o', sessions=[1, 2], progress=False)
    lay = Layout(tiny_copy)     # a gap in the numbering is a missing session too
    for fmt in ('nii.gz', 'hdf5'): lay.betas(1, 1, fmt).rename(lay.betas(1, 3, fmt))
    with pytest.raises(NSDFormatError, match=r'betas_session01\.nii\.gz: missing'):
        prepare_subject(tiny_copy, 1, tmp_path/'o', progress=False)
    assert _nothing_written(tmp_path/'o')

def test_mask_shape_mismatch(tiny_copy, tmp_path):
    lay = Layout(tiny_copy)
    roi = np.asarray(nib.load(lay.roi(1)).dataobj)
    write_nifti(lay.roi(1), np.pad(roi, ((0, 1), (0, 0), (0, 0)), constant_values=-1))
    for fmt in ('nii.gz', 'hdf5'):
        with pytest.raises(NSDFormatError, match=r'betas_session01\.(nii\.gz|hdf5): betas have shape .* expected'):
            prepare_subject(tiny_copy, 1, tmp_path/'o', fmt=fmt, progress=False)
    assert _nothing_written(tmp_path/'o')

@pytest.mark.parametrize('fmt', ['hdf5', 'nii.gz'])
def test_truncated_file(tiny_copy, tmp_path, fmt):
    f = Layout(tiny_copy).betas(1, 1, fmt)
    data = f.read_bytes(); f.write_bytes(data[:len(data)//2])
    with pytest.raises(NSDFormatError, match=re.escape(f'betas_session01.{fmt}: unreadable or truncated')):
        prepare_subject(tiny_copy, 1, tmp_path/'o', fmt=fmt, progress=False)
    assert _nothing_written(tmp_path/'o')

def test_truncated_stimulus_file(tiny_copy, tmp_path):
    f = Layout(tiny_copy).stimuli
    f.write_bytes(f.read_bytes()[:4096])
    with pytest.raises(NSDFormatError, match='nsd_stimuli.hdf5: unreadable or truncated'):
        prepare_subject(tiny_copy, 1, tmp_path/'o', progress=False)

def test_unknown_subject(tiny_root, tmp_path):
    with pytest.raises(ConfigError, match=r'unknown subject 2: .*nsd_expdesign.mat lists no images'): prepare_subject(tiny_root, 2, tmp_path, progress=False)
    with pytest.raises(ConfigError, match='expected an NSD subject number 1-8'): prepare_subject(tiny_root, 9, tmp_path, progress=False)

def test_design_beyond_stimulus_file(tiny_copy, tmp_path):
    lay = Layout(tiny_copy)
    with h5py.File(lay.stimuli) as f: few = f['imgBrick'][:10]
    lay.stimuli.unlink(); write_stimuli(lay.stimuli, few, len(few))
    with pytest.raises(NSDFormatError, match=r'nsd_stimuli.hdf5: holds 10 images but .*nsd_expdesign.mat'):
        prepare_subject(tiny_copy, 1, tmp_path/'o', progress=False)
    assert _nothing_written(tmp_path/'o')

def test_nan_voxels_dropped_with_count(tiny_copy, tmp_path):
    lay = Layout(tiny_copy)
    mask = load_roi(tiny_copy, 1)
    with h5py.File(lay.betas(1, 1, 'hdf5')) as f: b = f['betas'][()].astype(np.float32)   # (t, z, y, x)
    vox = np.argwhere(mask)[:3]
    for x, y, z in vox: b[5, z, y, x] = np.nan
    lay.betas(1, 1, 'hdf5').unlink()
    with h5py.File(lay.betas(1, 1, 'hdf5'), 'w') as f: f['betas'] = b
    with pytest.warns(UserWarning, match=r'dropped 3 of \d+ voxels with NaN'):
        p = load_prep(prepare_subject(tiny_copy, 1, tmp_path/'o', fmt='hdf5', progress=False))
    assert p.train_betas.shape[1] == mask.sum() - 3 and np.isfinite(p.train_betas).all()
    assert p.attrs['n_dropped_voxels'] == 3

def test_existing_prep_survives_failure(tiny_copy, tmp_path):
    out = prepare_subject(tiny_copy, 1, tmp_path/'o', progress=False)
    before = out.read_bytes()
    Layout(tiny_copy).expdesign.write_bytes(b'not a mat file')
    with pytest.raises(NSDFormatError, match='nsd_expdesign.mat: unreadable'): prepare_subject(tiny_copy, 1, tmp_path/'o', progress=False)
    assert out.read_bytes() == before and sorted(p.name for p in out.parent.iterdir()) == ['prep.h5']

def test_real_nsd_stimuli_round_trip(tmp_path):
    d = SHARED/'nsd_shared20'
    if not d.is_dir(): pytest.skip(f'real NSD stimuli not found at {d}')
    from PIL import Image
    files = sorted(p for p in d.iterdir() if p.suffix in ('.png', '.jpg'))
    imgs = [np.asarray(Image.open(p).convert('RGB')) for p in files]
    assert len(imgs) == 20 and all(i.shape == (425, 425, 3) for i in imgs)
    path = write_stimuli(tmp_path/'nsd_stimuli.hdf5', imgs, len(imgs))
    order = np.array([19, 0, 7, 7, 3])
    back = read_stimuli(path, order)
    for k, i in enumerate(order): np.testing.assert_array_equal(back[k], imgs[i])
    with pytest.raises(NSDFormatError, match='holds 20 images'): read_stimuli(path, [20])
