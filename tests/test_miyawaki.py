"Real V1 data (Miyawaki 2008): ridge and GRU decode the test patterns far above chance. Skips without the data."
import numpy as np, pytest
from neuro_decode.config import ConfigError
from neuro_decode.miyawaki import load_miyawaki, leave_one_figure_out, figure_labels
from neuro_decode.regress import RidgeRegressor, train_network, predict_network, TrainConfig
from neuro_decode.stats import pearson, permutation_p, two_way_identification

@pytest.fixture(scope='module')
def data():
    try: return load_miyawaki()
    except ConfigError as e: pytest.skip(f'real Miyawaki data absent: {e}')

def test_patterns_are_the_original_10x10(data):
    assert data['X_train'].shape == (107, 967) and data['Y_test'].shape == (12, 100)
    assert set(np.unique(data['Y_train'])) <= {0., 1.}

def test_ridge_and_gru_beat_chance(data):
    preds = {'ridge': RidgeRegressor(10., device='cpu').fit(data['X_train'], data['Y_train']).predict(data['X_test'])}
    m, _, _ = train_network('gru', data['X_train'], data['Y_train'], TrainConfig(max_epochs=150), seed=0, device='cpu', progress=False)
    preds['gru'] = predict_network(m, data['X_test'])
    for name, p in preds.items():
        pc, p_pc = permutation_p(p, data['Y_test'], pearson, n=500)
        idn, p_id = permutation_p(p, data['Y_test'], two_way_identification, n=500)
        assert pc > 0.5 and idn > 0.8 and p_pc < 0.01 and p_id < 0.01, (name, pc, idn, p_pc, p_id)

def test_missing_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match='nothing.mat: missing'):
        load_miyawaki(tmp_path/'nothing.mat')

def test_figures_never_seen_are_reconstructed(data):
    "Leave one figure out: ridge reconstructs each of the 20 figures from V1 without having seen it."
    X = np.concatenate([data['X_train'], data['X_test']]); Y = np.concatenate([data['Y_train'], data['Y_test']])
    lab, figs = figure_labels(Y)
    assert len(figs) == 20 and set(map(tuple, data['Y_test'])) <= set(map(tuple, data['Y_train']))   # the given split repeats figures
    rec, figs = leave_one_figure_out(X, Y, lambda a, b, c: RidgeRegressor(100., device='cpu').fit(a, b).predict(c))
    pc, p_pc = permutation_p(rec, figs, pearson, n=500)
    idn, p_id = permutation_p(rec, figs, two_way_identification, n=500)
    assert p_pc < 0.01 and p_id < 0.01 and idn > 0.75, (pc, p_pc, idn, p_id)
