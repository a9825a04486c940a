"The GLM comparison script (bench/glm_compare.py) as a user runs it: same numbers twice, paired intervals, files."
import sys
import numpy as np, pandas as pd, pytest
from conftest import ROOT

sys.path.insert(0, str(ROOT/'bench'))
import glm_compare

def test_comparison_reproduces_its_table(tmp_path, capsys):
    args = ['--voxels', '400', '--worlds', '7', '--group', 'rules', '--no-glmsingle']
    glm_compare.main(args + ['--out', str(tmp_path/'a.csv')])
    glm_compare.main(args + ['--out', str(tmp_path/'b.csv')])
    a, b = (pd.read_csv(tmp_path/f) for f in ('a.csv', 'b.csv'))
    assert list(a.method) == ['ours', glm_compare.POOL_TAIL, glm_compare.PC_TAIL]
    cols = ['B', 'C', 'D', 'hrf_r', 'n_pcs', 'pool', 'pool_responsive']
    pd.testing.assert_frame_equal(a[cols], b[cols])                     # the same world and the same fit: the same table
    assert (a.D > 0.3).all() and (a.hrf_r > 0.5).all(), a               # betas and HRFs recovered on a world we did not make for it
    v = pd.read_csv(tmp_path/'a_variants.csv')                          # ours minus each variant, paired over voxels
    assert list(v.variant) == [glm_compare.POOL_TAIL, glm_compare.PC_TAIL]
    for k in 'BCD':
        assert (v[f'{k}_lo'] <= v[k]).all() and (v[k] <= v[f'{k}_hi']).all()
        ours, other = a.set_index('method')[k]['ours'], a.set_index('method')[k].iloc[1:].values
        np.testing.assert_allclose(v[k], ours - other, atol=1e-3)      # the point estimate is the difference of medians
    with pytest.raises(SystemExit): glm_compare.main(['--group', 'everything'])
    assert 'invalid choice' in capsys.readouterr().err
