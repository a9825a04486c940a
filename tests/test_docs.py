"Builds the offline docs and looks at them in headless Chromium."
import json, re, shutil, subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which('chromium') or shutil.which('chromium-browser')
FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
         '--disable-component-update', '--disable-sync', '--hide-scrollbars']

@pytest.fixture(scope='module')
def site():
    subprocess.run([sys.executable, str(ROOT/'tools'/'docs.py'), 'site'], check=True, cwd=ROOT, capture_output=True)
    return ROOT/'_docs'

def test_site_has_every_chapter(site):
    chapters = sorted(p.stem for p in (ROOT/'nbs').glob('[0-9]*.ipynb'))
    html = (site/'index.html').read_text()
    for c in chapters:
        assert (site/f'{c}.html').exists(), c
        assert f'href="{c}.html"' in html, f'index has no link to {c}'
    hrf = (site/'01_hrf.html').read_text()
    assert 'data:image/png;base64' in hrf and 'hrf_library' in hrf      # figures and API docs made it

def test_index_in_headless_chromium(site, tmp_path):
    if not CHROMIUM: pytest.skip('chromium not installed (Debian package chromium; .ci/run installs it)')
    url = (site/'index.html').as_uri()
    prof = ['--user-data-dir=' + str(tmp_path/'profile')]
    shot = ROOT/'_docs'/'screenshot_index.png'
    subprocess.run([CHROMIUM, *FLAGS, *prof, '--window-size=1280,1600', f'--screenshot={shot}', url],
                   check=True, capture_output=True, timeout=120)
    assert shot.exists() and shot.stat().st_size > 10_000
    dom = subprocess.run([CHROMIUM, *FLAGS, *prof, '--dump-dom', url], check=True, capture_output=True, text=True, timeout=120).stdout
    assert re.search(r'<h1[^>]*>\s*neuro_decode', dom), 'project title missing from the rendered page'
    for c in sorted(p.stem for p in (ROOT/'nbs').glob('[0-9]*.ipynb')):
        assert f'{c}.html' in dom, f'no link to chapter {c} in the rendered page'
    # the kept results render on the front page: the findings table, Table 4, the reconstructions and the noise curves
    i = dom.index('What the default run finds')
    assert re.search(r'<th[^>]*>\s*verdict\s*</th>', dom[i:]) and 'Table 4 of the first subject' in dom[i:]
    for alt, name in (('reconstructions', 'reconstructions.jpg'), ('noise curves', 'noise.png')):
        m = re.search(rf'<img[^>]*alt="{alt}"[^>]*src="([^"]+)"|<img[^>]*src="([^"]+)"[^>]*alt="{alt}"', dom[i:])
        assert m, f'no {alt} image on the front page'
        src = m.group(1) or m.group(2)
        assert src.endswith(name) and (site/src).exists(), src

def test_formulas_render_offline(site, tmp_path):
    "MathJax is served from the site itself (a PyPI package), so formulas render with no network."
    if not CHROMIUM: pytest.skip('chromium not installed (Debian package chromium; .ci/run installs it)')
    assert (site/'mathjax'/'MathJax.js').exists()
    dom = subprocess.run([CHROMIUM, *FLAGS, '--user-data-dir=' + str(tmp_path/'profile'), '--virtual-time-budget=15000',
                          '--dump-dom', (site/'03_glm.html').as_uri()], check=True, capture_output=True, text=True, timeout=180).stdout
    assert len(re.findall(r'class="MathJax[_ ]', dom)) > 10, 'formulas were not typeset'

KEPT = ROOT/'results'/'sim-default'

def test_readme_findings_come_from_the_kept_results():
    "The README's findings, Table 4 and figures are what results/sim-default/ holds, and that holds one row per claim of the code."
    import numpy as np, pandas as pd
    from neuro_decode.findings import CLAIMS, VERDICTS, _num, verdict
    from neuro_decode.report import results_markdown
    f = pd.read_csv(KEPT/'findings.csv', dtype={'subjects': str})
    assert list(f.key) == [c.key for c in CLAIMS], 'results/sim-default is older than the claims: make run && make results'
    tests = pd.read_csv(KEPT/'tests.csv')
    for c, r in zip(CLAIMS, f.itertuples()):               # each row is its claim's, judged by the rule, from the kept paired tests
        assert (r.claim, r.paper, r.direction) == (c.claim, c.paper, c.direction), c.key
        assert r.verdict == ('not computed' if isinstance(r.note, str) else verdict(c.direction, r.lo, r.hi, r.margin)), c.key
        if c.kind == 'image' and r.verdict != 'not computed':
            t = tests[(tests.comparison == c.what['comparison'].replace('{amax}', '256')) & (tests.subject == int(r.subjects))
                      & (tests.label == r.metric)]
            assert len(t) == 1 and np.allclose(t[['diff', 'lo', 'hi', 'p']].to_numpy()[0], [r.ours, r.lo, r.hi, r.p]), c.key
    readme = (ROOT/'README.md').read_text()
    assert results_markdown(KEPT) in readme, 'README.md does not show results/sim-default: make readme'
    flat = ' '.join(readme.split())
    for r in f.itertuples():                                # each number and verdict, as the files give them
        assert r.verdict in VERDICTS and ' '.join(r.claim.split()) in flat
        if r.verdict != 'not computed': assert f"{_num(r.ours)} [{_num(r.lo)}, {_num(r.hi)}]" in flat, r.key
    assert json.loads((KEPT/'run.json').read_text())['commit'][:10] in readme
    t4 = pd.read_csv(KEPT/'table4.csv', index_col=0)
    for v in t4.iloc[0].dropna(): assert v in readme

def test_readme_nsd_numbers_come_from_the_bench_results():
    "The README's disk and memory numbers for NSD are the committed results of `make bench BENCH=nsd-shaped`."
    import pandas as pd
    t = pd.read_csv(ROOT/'bench'/'results'/'nsd_shaped.csv')
    row = lambda start: t[t.benchmark.str.startswith(start)].iloc[0]
    txt = ' '.join((ROOT/'README.md').read_text().split())
    h5, nii = row('prepare 2 NSD-shaped sessions') , t[t.benchmark.str.startswith('prepare 2 NSD-shaped sessions')].iloc[1]
    assert 'hdf5' in h5.benchmark and 'nii.gz' in nii.benchmark
    assert (f"took {h5.seconds:.1f} s with a peak of {h5.peak_MB:.0f} MB from `.hdf5` betas and {nii.seconds:.1f} s with "
            f"{nii.peak_MB:.0f} MB from `.nii.gz`") in txt
    f32, f16 = (t[t.benchmark.str.startswith('features of those images') & t.benchmark.str.endswith(d)].iloc[0] for d in ('float32', 'float16'))
    assert f"take about {f32.full_nsd_run_features_GB} GB, or {f16.full_nsd_run_features_GB} GB with `run --float16-features`" in txt
    assert f"({f32.peak_MB:.0f} MB peak for {f32.images:.0f} images with the bundled models)" in txt

def test_chapters_show_the_default_run(site, tmp_path):
    "With the default run in this checkout (`make run`), the docs' chapters 11 and 13 show its findings, Table 4 and noise curves."
    if not (ROOT/'runs'/'sim-default'/'executed').exists(): pytest.skip('no default run in this checkout (make run): chapters show their own examples')
    if not CHROMIUM: pytest.skip('chromium not installed (Debian package chromium; .ci/run installs it)')
    dump = lambda page: subprocess.run([CHROMIUM, *FLAGS, '--user-data-dir=' + str(tmp_path/'profile'), '--dump-dom', (site/page).as_uri()],
                                       check=True, capture_output=True, text=True, timeout=120).stdout
    rep = dump('13_report.html')
    assert 'default run' in rep and re.search(r'<th[^>]*>\s*verdict\s*</th>', rep) and '<b>Table 4</b>' in rep
    noise = dump('11_noise.html')
    assert 'stage-2 metrics against the noise' in noise and noise.count('data:image/png;base64') >= 2

def test_step_times_count_parallel_nodes_once():
    "The README's time per step: node minutes add up, wall minutes count the time while any node ran (overlaps once, gaps not)."
    from neuro_decode.report import step_times
    run = {'nodes': {'07_regress_sub-01': {'seconds': 60, 'finished': '2026-01-01T00:01:00'},
                     '07_regress_sub-02': {'seconds': 30, 'finished': '2026-01-01T00:00:45'},     # inside the first
                     '09_stage2_sub-01': {'seconds': 60, 'finished': '2026-01-01T00:05:00'}}}     # after a 3-minute gap
    t = step_times(run).set_index('step')
    assert list(t.index) == ['07_regress', '09_stage2', 'all (in parallel)']
    assert (t.loc['07_regress', ['nodes', 'node_minutes', 'wall_minutes']] == [2, 1.5, 1.0]).all()
    assert (t.loc['all (in parallel)', ['nodes', 'node_minutes', 'wall_minutes']] == [3, 2.5, 2.0]).all()
