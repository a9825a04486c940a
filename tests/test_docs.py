"Builds the offline docs and looks at them in headless Chromium."
import re, shutil, subprocess, sys
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

def test_formulas_render_offline(site, tmp_path):
    "MathJax is served from the site itself (a PyPI package), so formulas render with no network."
    if not CHROMIUM: pytest.skip('chromium not installed (Debian package chromium; .ci/run installs it)')
    assert (site/'mathjax'/'MathJax.js').exists()
    dom = subprocess.run([CHROMIUM, *FLAGS, '--user-data-dir=' + str(tmp_path/'profile'), '--virtual-time-budget=15000',
                          '--dump-dom', (site/'03_glm.html').as_uri()], check=True, capture_output=True, text=True, timeout=180).stdout
    assert len(re.findall(r'class="MathJax[_ ]', dom)) > 10, 'formulas were not typeset'

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
