"""The shape of the house (issue 22): chapters never import the runner, run-folder file names are spelled in one module,
functions stay short, and every pipeline chapter declares its parameters right after its imports."""
import ast, json, re
from pathlib import Path
import pytest
from neuro_decode.run import STEPS

ROOT = Path(__file__).resolve().parents[1]
NBS, LIB = ROOT/'nbs', ROOT/'neuro_decode'

def _cells(nb:Path)->list: return json.loads(nb.read_text())['cells']
def _src(c)->str: return ''.join(c['source'])

def test_no_chapter_imports_the_runner():
    bad = [f"{nb.name} cell {i}" for nb in sorted(NBS.glob('*.ipynb')) if nb.stem not in ('15_run', '16_slurm')   # the runner and its SLURM backend
           for i, c in enumerate(_cells(nb)) if c['cell_type'] == 'code' and re.search(r'neuro_decode\.run\b|from \.run import', _src(c))]
    assert not bad, bad

# names of the files a run writes (the run layout's, chapter 00b): nowhere else in the library
RUN_NAMES = re.compile(r"sub-\{|'sub-\*|prep\.h5'|pred_\{|pred_clip_\{|history_\{|metrics_\{|'metrics\.csv'|'metric_tests\.csv'|'rsa\.csv'|"
                       r"'clip_scores\.json'|'clip_scores_gru\.json'|_clip\{clip\}|'glm_accuracy\.csv'|noise_\{|noise_effect_|stage1_\{|stage2_\{|'stage2_clip_only'|'index\.json'|"
                       r"\{[^}]*:05d\}\S*\.png|/'features'|/'images'|/'report'|'\.stamps'|'run_log\.csv'|vdvae_L\{k\}\.h5|clip_\{kind\}\.h5")

def test_run_folder_names_are_spelled_in_the_layout_only():
    bad = []
    for p in sorted(LIB.glob('*.py')):
        if p.name in ('layout.py', '_modidx.py'): continue
        for i, line in enumerate(p.read_text().splitlines(), 1):
            code = line.split('#', 1)[0]
            if RUN_NAMES.search(code) and not code.lstrip().startswith(('"', "'")): bad.append(f"{p.name}:{i}: {line.strip()[:100]}")
    assert not bad, '\n'.join(bad)

def test_no_function_over_60_lines():
    long = [f"{p.name}:{n.lineno} {n.name} ({n.end_lineno - n.lineno + 1} lines)" for p in sorted(LIB.glob('*.py'))
            for n in ast.walk(ast.parse(p.read_text())) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.end_lineno - n.lineno + 1 > 60]
    assert not long, long

@pytest.mark.parametrize('notebook', sorted({s.notebook for s in STEPS.values()}))
def test_parameters_right_after_the_imports(notebook):
    cs = _cells(NBS/f'{notebook}.ipynb')
    at = [i for i, c in enumerate(cs) if 'parameters' in c.get('metadata', {}).get('tags', [])]
    assert len(at) == 1 and at[0] < 5, (notebook, at)
    before = [c for c in cs[:at[0]] if c['cell_type'] == 'code']
    assert before and all(_src(c).startswith('#| ') for c in before), notebook   # only default_exp and the exported imports come first
