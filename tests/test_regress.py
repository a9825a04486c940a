"Stage-1 regressors (07_regress): ridge against scikit-learn, the paper's GRU size, learning beyond chance."
import json
import numpy as np, pytest, torch
from sklearn.linear_model import Ridge
from neuro_decode.config import ConfigError
from neuro_decode.stats import two_way_identification
from neuro_decode.regress import (RidgeRegressor, GRURegressor, CNNRegressor, TransformerRegressor, n_params, train_network,
                                  predict_network, TrainConfig, restandardize, fit_stage1, stage1_table,
                                  ridge_smoother, ridge_stream, ridge_alpha, RIDGE_ALPHAS, PAPER_ALPHA)

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
        assert summ['best_epoch'] <= summ['epochs_run'] and hist[0]['val_mse'] > summ['val_mse_selected']
        assert summ['refit_epochs'] == summ['epochs_run']              # the paper's code refits for every epoch it ran

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

def test_streamed_ridge_equals_sklearn_and_in_memory():
    "Targets read a block of outputs at a time give the same predictions as scikit-learn, in both forms."
    rng = np.random.default_rng(5)
    for n, p in ((60, 200), (200, 60)):
        X, Xt, Y = rng.normal(size=(n, p)), rng.normal(size=(9, p)), rng.normal(size=(n, 50)).astype(np.float32)
        ref = Ridge(alpha=30.).fit(X, Y).predict(Xt)
        np.testing.assert_allclose(RidgeRegressor(30., device='cpu').fit_predict(X, Y, Xt, block=7), ref, rtol=1e-4, atol=1e-5)
        o = ridge_stream([(ridge_smoother(X[:40], Xt, 30., 'cpu'), np.arange(40))], Y, block=11)[0]
        np.testing.assert_allclose(o['pred'], Ridge(alpha=30.).fit(X[:40], Y[:40]).predict(Xt), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(o['target_std'], Y[:40].std(0), rtol=1e-5)

def test_cross_validation_picks_the_right_scale_of_alpha():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(150, 400)); W = rng.normal(size=(400, 30))*0.02
    Y = X @ W + rng.normal(size=(150, 30))
    alphas = (1e-2, 1., 1e2, 1e4, 1e6)
    best, score = RidgeRegressor(alphas=alphas, device='cpu').cross_validate(X, Y)
    assert best in (1e2, 1e4) and score.argmax() == alphas.index(best) and score[-1] < score.max()
    # a spread sample of outputs picks the same alpha as all of them
    assert RidgeRegressor(alphas=alphas, cv_outputs=16, device='cpu').cross_validate(X, Y)[0] == best

@pytest.mark.parametrize('n,p', [(120, 300), (300, 120), (200, 199)])
def test_cross_validation_equals_refitting_every_fold(n, p):
    "One eigendecomposition scores every fold and alpha exactly as refitting each fold (float64, scikit-learn-equal fits)."
    rng = np.random.default_rng(n)
    X = rng.normal(size=(n, p))*rng.uniform(0.2, 3, p) + 5; Y = X @ rng.normal(size=(p, 8))*0.05 + rng.normal(size=(n, 8)) + 2
    alphas = (1e-1, 10., 1e3, 1e5)
    folds = np.array_split(np.random.default_rng(0).permutation(n), 5)
    ref = []
    for a in alphas:
        sse = sst = 0.
        for f in folds:
            tr = np.setdiff1d(np.arange(n), f)
            sse += ((Y[f] - Ridge(alpha=a).fit(X[tr], Y[tr]).predict(X[f]))**2).sum(); sst += ((Y[f] - Y[tr].mean(0))**2).sum()
        ref.append(1 - sse/sst)
    best, score = RidgeRegressor(alphas=alphas, device='cpu').cross_validate(X, Y)
    np.testing.assert_allclose(score, ref, atol=2e-4)
    assert best == alphas[int(np.argmax(ref))]

def _world(n, p, q, noise, rank, seed):
    "Inputs with correlated voxels (a `rank`-dimensional signal under independent noise), a linear map, noisy targets."
    r = np.random.default_rng(seed)
    X = r.normal(size=(n, rank)) @ r.normal(size=(rank, p)) + r.normal(size=(n, p))
    X = (X - X.mean(0))/X.std(0)                          # z-scored, as the betas are
    return X, X @ (r.normal(size=(p, q))/np.sqrt(p)) + noise*r.normal(size=(n, q))

@pytest.mark.parametrize('n,p,q,noise,rank', [(100, 1500, 30, 1., 20), (600, 300, 30, 2., 50), (300, 3000, 40, .3, 300), (2000, 200, 10, 5., 10)])
def test_cross_validated_alpha_predicts_new_images_as_well_as_the_best_of_the_grid(n, p, q, noise, rank):
    "On worlds of other sizes, correlations and noise, the alpha chosen inside the training images is within 0.02 R^2 of the test-set oracle."
    X, Y = _world(n + 300, p, q, noise, rank, n)
    def r2(a):
        P = RidgeRegressor(a, device='cpu').fit(X[:n], Y[:n]).predict(X[n:])
        return 1 - ((Y[n:] - P)**2).sum()/((Y[n:] - Y[:n].mean(0))**2).sum()
    a, curve = ridge_alpha(X[:n], Y[:n], device='cpu')
    assert set(curve) == set(RIDGE_ALPHAS) and curve[a] == max(curve.values())
    assert r2(a) > max(map(r2, RIDGE_ALPHAS)) - 0.02, (a, r2(a))

def test_alpha_at_the_end_of_the_grid_warns_and_bad_grids_are_refused():
    X, Y = _world(200, 100, 5, 1., 10, 0)
    with pytest.warns(UserWarning, match='at the end of the candidates'): ridge_alpha(X, np.random.default_rng(1).normal(size=(200, 5)), (1e-3, 1e-2), device='cpu')
    with pytest.raises(ConfigError, match='expected positive numbers'): ridge_alpha(X, Y, (0., 10.), device='cpu')
