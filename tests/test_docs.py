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
