"""Test worlds for single-trial GLMs that are not the project's simulator.

Each world is one session (by default 2,000 voxels, 6 runs of about 300 s) with known single-trial betas and a
known HRF per voxel. Worlds differ in what a GLM has to assume: the HRF's shape family (latency, width and
undershoot drawn from ranges reported in the literature, or GLMsingle's own library, or a different functional
form), the drift (polynomials, slow oscillations, steps), the noise (thermal, autocorrelated, shared
physiological time courses, motion spikes), the SNR, the TR and whether onsets fall on the volume grid.

The generator shares no code with `neuro_decode.simulate` or with the GLM: its own time grid (0.01 s), its
own HRF forms and its own convolution, so a GLM cannot win by matching the generator's discretisation.
Used by `bench/glm_compare.py`.
"""
from dataclasses import dataclass
from pathlib import Path
import numpy as np
from scipy.stats import gamma

FINE = 0.01        # s: the generator's time grid
SUPPORT = 32.      # s: length of every HRF
STIM_S = 3.        # s: stimulus duration (NSD's)
TRIAL_S = 4.       # s: one trial every 4 s (NSD's 3 s on, 1 s off)
def _glmsingle_tsv()->Path:
    "GLMsingle's NSD HRF library: the copy in ../shared/data next to this checkout, else the installed package's."
    here = Path(__file__).resolve().parents[2]/'shared'/'data'/'glmsingle_hrf_library'/'getcanonicalhrflibrary.tsv'
    if here.exists(): return here
    try:
        import importlib.util
        spec = importlib.util.find_spec('glmsingle')
        if spec and spec.origin: return Path(spec.origin).parent/'hrf'/'getcanonicalhrflibrary.tsv'
    except ImportError: pass
    return here

GLMSINGLE_TSV = _glmsingle_tsv()

@dataclass(frozen=True)
class World:
    "What one test world draws from."
    name:str
    hrf:str = 'published'     # 'published' | 'early' | 'late' | 'bumps' | 'glmsingle' | 'simulator'
    drift:tuple = ('oscillations', 'steps')   # any of 'polynomial', 'oscillations', 'steps'
    drift_sd:float = 2.       # % signal: size of each drift kind
    ar:float = 0.5            # AR(1) coefficient of each voxel's own noise
    physio:int = 6            # shared noise time courses (respiration- and heart-like, slow)
    physio_sd:float = 1.      # % signal per shared time course
    spikes:int = 0            # motion spikes per run (shared, all voxels)
    noise_sd:float = 1.5      # % signal: thermal noise
    tr:float = 1.             # s
    run_s:float = 300.        # s per run
    n_runs:int = 6
    jitter:float = 0.         # s: onsets shifted by U(0, jitter) (off the volume grid when > 0)
    note:str = ''

WORLDS = [
    World('published HRFs, oscillations + steps', note="HRF latency, width and undershoot in published ranges; the issue's independent world"),
    World('GLMsingle library, polynomial drift', hrf='glmsingle', drift=('polynomial',), note="GLMsingle's assumptions: HRFs from its NSD library"),
    World('early narrow HRFs, high SNR', hrf='early', drift=('polynomial', 'oscillations'), noise_sd=1.0, ar=0.3),
    World('late broad HRFs, low SNR, strong physiology', hrf='late', drift=('steps',), noise_sd=2.2, physio=8, physio_sd=1.6),
    World('Gaussian-bump HRFs, all drifts, AR 0.7, spikes', hrf='bumps', drift=('polynomial', 'oscillations', 'steps'), ar=0.7, spikes=2),
    World("NSD timing (TR 1.333 s), published HRFs", tr=4/3, drift=('polynomial', 'oscillations', 'steps')),
    World('off-grid onsets (TR 1.6 s, jitter 1 s)', tr=1.6, jitter=1., drift=('oscillations',)),
    World("the project's simulator HRFs, oscillations", hrf='simulator', drift=('oscillations',), note="the world our defaults were first chosen on"),
]

def gamma_hrf(t, peak:float, fwhm:float, under:float, under_delay:float=6.)->np.ndarray:
    "Response gamma with mode `peak` s and FWHM about `fwhm` s, minus `under` times a broader gamma `under_delay` s later."
    def g(mode, width):
        # gamma with shape a, scale b: mode (a-1) b, sd sqrt(a) b; FWHM ~ 2.355 sd (solved for a by bisection)
        lo, hi = 1.01, 400.
        for _ in range(60):
            a = (lo + hi)/2
            w = 2.355*np.sqrt(a)*mode/(a - 1)
            lo, hi = (a, hi) if w > width else (lo, a)
        return gamma.pdf(t, a, scale=mode/(a - 1))
    h = g(peak, fwhm)
    h = h/h.max()
    if under > 0:
        u = g(peak + under_delay, 1.6*fwhm)
        h = h - under*u/u.max()
    return h/np.abs(h).max()

def bump_hrf(t, peak:float, sd:float, under:float)->np.ndarray:
    "A Gaussian response with a smooth onset and a Gaussian undershoot: not a gamma family at all."
    h = np.exp(-0.5*((t - peak)/sd)**2)*(1 - np.exp(-t/1.0)) - under*np.exp(-0.5*((t - peak - 2.5*sd - 3)/(2*sd))**2)
    return h/np.abs(h).max()

def draw_hrfs(kind:str, n:int, rng)->np.ndarray:
    "`n` HRFs of family `kind`, each sampled every `FINE` s over `SUPPORT` s, peak-normalised."
    t = np.arange(0, SUPPORT, FINE)
    if kind == 'glmsingle':
        if not GLMSINGLE_TSV.exists(): raise FileNotFoundError(f"{GLMSINGLE_TSV}: GLMsingle's HRF library (../shared/data)")
        L = np.loadtxt(GLMSINGLE_TSV, ndmin=2)                  # rows every 0.1 s
        lib = np.stack([np.interp(t, np.arange(len(L))*0.1, c, right=0.) for c in L.T])
        lib = lib/np.abs(lib).max(1, keepdims=True)
        return lib[rng.integers(0, len(lib), n)]
    if kind == 'simulator':
        from neuro_decode.hrf import hrf_library, HRF_DT
        lib = hrf_library()
        lib = np.stack([np.interp(t, np.arange(lib.shape[1])*HRF_DT, h, right=0.) for h in lib])
        return lib[rng.integers(0, len(lib), n)]
    if kind == 'bumps':
        return np.stack([bump_hrf(t, rng.uniform(3.5, 7.), rng.uniform(1.1, 2.4), rng.uniform(0., 0.35)) for _ in range(n)])
    peak, width, under = {'published': ((4., 6.5), (0.75, 1.1), (0.05, 0.35)),   # Handwerker et al. 2004; Glover 1999
                          'early': ((2.5, 4.5), (0.8, 1.2), (0.1, 0.4)),
                          'late': ((5.5, 8.), (0.9, 1.3), (0., 0.2))}[kind]
    out = []
    for _ in range(n):
        p = rng.uniform(*peak)
        out.append(gamma_hrf(t, p, p*rng.uniform(*width), rng.uniform(*under), rng.uniform(4., 9.)))
    return np.stack(out)

def _drift(kind:str, n_vols:int, tr:float, V:int, sd:float, rng)->np.ndarray:
    "(n_vols, V) drift of one run, % signal."
    s = np.arange(n_vols)*tr
    if kind == 'polynomial':
        x = np.linspace(-1, 1, n_vols)
        P = np.stack([x, 1.5*x**2 - .5, 2.5*x**3 - 1.5*x], 1)
        return P @ rng.normal(0, sd, (3, V))
    if kind == 'oscillations':                    # three slow oscillations per voxel group, periods 60-400 s
        out = np.zeros((n_vols, V))
        for _ in range(3):
            per, ph = rng.uniform(60, 400, 8), rng.uniform(0, 2*np.pi, 8)
            waves = np.sin(2*np.pi*s[:, None]/per + ph)             # (n_vols, 8) shared shapes
            out += waves @ rng.normal(0, sd/np.sqrt(12), (8, V))   # 3 x 8 waves of power 1/2: total sd ~ `sd`
        return out
    if kind == 'steps':                           # scanner or head-position shifts: 2 steps per run, voxel-specific size, plus a ramp
        out = np.zeros((n_vols, V))
        for _ in range(2):
            k = rng.integers(n_vols//10, n_vols - n_vols//10)
            out[k:] += rng.normal(0, sd, V)
        return out + np.linspace(-1, 1, n_vols)[:, None]*rng.normal(0, sd/2, V)
    raise ValueError(f"unknown drift kind {kind!r}; expected 'polynomial', 'oscillations' or 'steps'")

def _ar1(n:int, V:int, rho:float, rng)->np.ndarray:
    e = rng.normal(size=(n, V))
    x = np.empty_like(e); x[0] = e[0]
    for i in range(1, n): x[i] = rho*x[i-1] + e[i]
    return x/x.std(0)

def _physio(n_vols:int, tr:float, k:int, rng)->np.ndarray:
    "(n_vols, k) shared time courses: aliased respiration and heart beat, and slow vascular fluctuations."
    s = np.arange(n_vols)*tr
    out = []
    for j in range(k):
        if j % 3 == 0: f = rng.uniform(0.2, 0.35)           # respiration, Hz (aliased by the sampling)
        elif j % 3 == 1: f = rng.uniform(0.9, 1.3)          # heart
        else: f = None
        if f is None: x = _ar1(n_vols, 1, 0.95, rng)[:, 0]
        else:
            x = np.sin(2*np.pi*(f*s + np.cumsum(rng.normal(0, 0.02, n_vols))) + rng.uniform(0, 2*np.pi))
            x *= 1 + 0.3*_ar1(n_vols, 1, 0.98, rng)[:, 0]   # breathing depth changes
        out.append((x - x.mean())/x.std())
    return np.stack(out, 1) if out else np.zeros((n_vols, 0))

def sample_responses(h:np.ndarray, onsets_s:np.ndarray, n_vols:int, tr:float)->np.ndarray:
    "(n_vols, n_events) responses to `STIM_S`-long events at `onsets_s` (s), HRF `h` on the `FINE` grid, peak 1."
    resp = np.convolve(np.ones(int(round(STIM_S/FINE))), h)*FINE
    resp = resp/np.abs(resp).max()
    tfine = np.arange(len(resp))*FINE
    lag = np.arange(n_vols)[:, None]*tr - onsets_s[None]       # exact lags, interpolated on the fine grid
    return np.where((lag >= 0) & (lag < tfine[-1]), np.interp(np.clip(lag, 0, tfine[-1]), tfine, resp), 0.)

def make_world(w:World, n_vox:int=2000, seed:int=0, n_hrfs:int=60)->dict:
    """One session of world `w`: time series (T, V) float32 in scanner units, the design (onsets in seconds and in
    volumes, conditions) and the truth (single-trial betas, each voxel's HRF, which voxels respond)."""
    rng = np.random.default_rng(seed)
    n_vols = int(round(w.run_s/w.tr))
    slots = int((w.run_s - 20.)//TRIAL_S)
    onsets_s, n_t = [], 0
    for r in range(w.n_runs):
        keep = np.sort(rng.choice(slots, int(round(slots*0.88)), replace=False))   # ~12% blank trials, as NSD
        on = 4. + TRIAL_S*keep + (rng.uniform(0, w.jitter, len(keep)) if w.jitter else 0.)
        onsets_s.append(on); n_t += len(keep)
    n_img = int(np.ceil(n_t/3))
    cond = rng.permutation(np.repeat(np.arange(1, n_img + 1), 3))[:n_t]         # each image three times
    active = rng.uniform(size=n_vox) < 0.7
    gain = rng.uniform(0.5, 1.5, n_vox)
    img = rng.normal(1.5, 1., (n_img + 1, n_vox))*gain
    trial = (img[cond] + rng.normal(0, .4, (n_t, n_vox))*gain)*active
    hrfs = draw_hrfs(w.hrf, n_hrfs, rng)
    which = rng.integers(0, n_hrfs, n_vox)
    T = n_vols*w.n_runs
    Y = np.zeros((T, n_vox))
    c = 0
    for r, on in enumerate(onsets_s):
        rows = slice(r*n_vols, (r + 1)*n_vols)
        for j in np.unique(which):
            v = which == j
            Y[rows, v] += sample_responses(hrfs[j], on, n_vols, w.tr) @ trial[c:c+len(on)][:, v]
        c += len(on)
        for kind in w.drift: Y[rows] += _drift(kind, n_vols, w.tr, n_vox, w.drift_sd, rng)
        Y[rows] += _physio(n_vols, w.tr, w.physio, rng) @ rng.normal(0, w.physio_sd, (w.physio, n_vox))
        for _ in range(w.spikes):
            k = rng.integers(5, n_vols - 5)
            Y[r*n_vols + k] += rng.normal(0, 4., n_vox)
    Y += _ar1(T, n_vox, w.ar, rng)*w.noise_sd*rng.uniform(0.7, 1.3, n_vox)*np.sqrt(0.5)
    Y += rng.normal(0, w.noise_sd*np.sqrt(0.5), Y.shape)
    base = rng.uniform(600, 1200, n_vox)
    return dict(Y=(base*(1 + Y/100)).astype(np.float32), tr=w.tr, n_vols=n_vols, n_runs=w.n_runs,
                onsets_s=onsets_s, conditions=cond, trial_betas=trial.astype(np.float32), active=active,
                hrfs=hrfs, hrf_of_voxel=which)
