"Stage-1 regressors (07_regress): ridge against scikit-learn, the paper's GRU size, learning beyond chance."
import json
import numpy as np, pytest, torch
from sklearn.linear_model import Ridge
from neuro_decode.config import ConfigError
from neuro_decode.regress import (RidgeRegressor, GRURegressor, CNNRegressor, TransformerRegressor, n_params, train_network,
                                  predict_network, TrainConfig, two_way_identification, restandardize, fit_stage1, stage1_table)

@pytest.mark.parametrize('n,p', [(120, 40), (40, 120)])
def test_ridge_matches_sklearn(n, p):
    rng = np.random.default_rng(n)
    X, Y = rng.normal(size=(n, p)), rng.normal(size=(n, 300))
    for a in (0.5, 50., 5e4):
        ours = RidgeRegressor(a, device='cpu').fit(X, Y).predict(X[:10])
        ref = Ridge(alpha=a).fit(X, Y).predict(X[:10])
        np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-8)

def test_restandardize_gives_training_scale():
    rng = np.random.default_rng(1)
    p = restandardize(rng.normal(3, 0.1, (50, 4)), np.array([0., 1, 2, 3]), np.array([1., 2, 3, 4]))
    np.testing.assert_allclose(p.mean(0), [0, 1, 2, 3], atol=1e-9); np.testing.assert_allclose(p.std(0), [1, 2, 3, 4], rtol=1e-9)

def test_paper_parameter_count():
    assert n_params(GRURegressor(15724, 13344)) == 12_400_344
    for cls in (CNNRegressor, TransformerRegressor):
        assert n_params(cls(15724, 13344)) > 12_400_344          # the GRU plus a block

def test_networks_learn_a_nonlinear_map():
    "On a noisy non-linear problem, each network identifies held-out targets far above chance (0.5)."
    rng = np.random.default_rng(0)
    X = rng.normal(size=(360, 60)).astype(np.float32)
    W = rng.normal(size=(60, 30))/np.sqrt(60)
    Y = (np.tanh(2*X @ W) + 0.3*rng.normal(size=(360, 30))).astype(np.float32)
    for kind in ('gru', 'cnn', 'transformer'):
        m, hist, summ = train_network(kind, X[:300], Y[:300], TrainConfig(max_epochs=60), seed=0, device='cpu', progress=False)
        ident = two_way_identification(predict_network(m, X[300:]), Y[300:]).mean()
        assert ident > 0.85, (kind, ident)
        assert summ['best_epoch'] <= summ['epochs_run'] and hist[0]['val_mse'] > summ['val_mse']

def test_seeded_training_is_reproducible():
    rng = np.random.default_rng(3)
    X, Y = rng.normal(size=(80, 20)).astype(np.float32), rng.normal(size=(80, 5)).astype(np.float32)
    a = predict_network(train_network('gru', X, Y, TrainConfig(max_epochs=3), seed=7, device='cpu', progress=False)[0], X)
    b = predict_network(train_network('gru', X, Y, TrainConfig(max_epochs=3), seed=7, device='cpu', progress=False)[0], X)
    np.testing.assert_array_equal(a, b)

def test_unknown_model_and_missing_features(tmp_path):
    with pytest.raises(ConfigError, match="unknown model 'lstm'"):
        train_network('lstm', np.zeros((10, 3)), np.zeros((10, 2)))
    with pytest.raises(ConfigError, match='no stage-1 metrics yet'):
        stage1_table(tmp_path)
