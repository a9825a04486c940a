"The GLM comparison script (bench/glm_compare.py) as a user runs it: same numbers twice, paired intervals, files."
import sys
import numpy as np, pandas as pd, pytest, torch
from conftest import ROOT

sys.path.insert(0, str(ROOT/'bench'))
import glm_compare

@pytest.fixture
def keep_threads():
    "The script sets torch to one thread, as a benchmark should; give the other tests theirs back."
    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)

def test_comparison_reproduces_its_table(tmp_path, capsys, keep_threads):
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

def test_committed_results_hold_their_group():
    "Each file in bench/results/ is what its documented command writes: the variants of one group (chapter 03)."
    optional = {'GLMsingle', "ours + GLMsingle's library"}     # GLMsingle's rows and library need it or its file here
    for group, name in (('compare', 'glm_compare'), ('ablation', 'glm_ablation'), ('rules', 'glm_rules_selection'),
                        ('candidates', 'glm_candidates'), ('drift', 'glm_drift_selection')):
        df = pd.read_csv(ROOT/'bench'/'results'/f'{name}.csv')
        assert set(df.method) - optional == set(glm_compare.configs(group)) - optional, name
        assert df.groupby('world').size().nunique() == 1 and df.world.nunique() == len(glm_compare.WORLDS), name
        seeds = df.groupby('world', sort=False).seed.first().values
        assert (seeds == seeds[0] + np.arange(len(seeds))).all() and seeds[0] in (0, 100), name   # world i drawn with seed + i
