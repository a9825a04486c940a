from pathlib import Path
import subprocess, sys
import pytest
from neuro_decode.config import get_config, get_preset, ConfigError, check_subject, atomic_path, project_root
import neuro_decode

def test_unknown_preset_is_one_line():
    with pytest.raises(ConfigError) as e: get_config('huge')
    msg = str(e.value)
    assert '\n' not in msg and "'huge'" in msg and 'tiny, default, nsd' in msg

def test_missing_paths_are_named(tmp_path):
    with pytest.raises(ConfigError, match='/no/such/nsd.*does not exist'): get_config('nsd', nsd_root='/no/such/nsd')
    with pytest.raises(ConfigError, match='NSD_ROOT'): get_config('nsd')
    with pytest.raises(ConfigError, match='weights directory'): get_config('tiny', weights_dir=tmp_path/'missing')

def test_environment_variables(monkeypatch, tmp_path):
    monkeypatch.setenv('NEURO_DECODE_RUNS', str(tmp_path/'r'))
    monkeypatch.setenv('NSD_ROOT', str(tmp_path))
    monkeypatch.setenv('NEURO_DECODE_WEIGHTS', str(tmp_path))
    c = get_config('nsd')
    assert c.runs_dir == (tmp_path/'r').resolve() and c.data_root == tmp_path.resolve() and c.weights_dir == tmp_path.resolve()
    assert c.run_dir.name == 'nsd'
    # an argument beats the environment
    assert get_config('tiny', runs_dir=tmp_path/'x').runs_dir == (tmp_path/'x').resolve()

def test_device_and_subjects():
    assert get_config('tiny', device='cpu').device == 'cpu'
    with pytest.raises(ConfigError, match="expected 'cuda'"): get_config('tiny', device='tpu')
    for bad in (0, 9, 'x', None):
        with pytest.raises(ConfigError): check_subject(bad)
    assert get_preset('default').subjects == (1, 2, 5, 7)

def test_atomic_path_keeps_old_file(tmp_path):
    f = tmp_path/'a.txt'; f.write_text('old')
    with pytest.raises(RuntimeError):
        with atomic_path(f) as t: t.write_text('new, half'); raise RuntimeError
    assert f.read_text() == 'old' and [p.name for p in tmp_path.iterdir()] == ['a.txt']

def test_package_version_and_console_script():
    ini = (project_root(Path(__file__).parent)/'settings.ini').read_text()
    assert f"version = {neuro_decode.__version__}" in ini
    r = subprocess.run([str(Path(sys.executable).parent/'neuro-decode'), '--help'], capture_output=True, text=True)
    assert r.returncode == 0 and 'simulate' in r.stdout and 'prepare' in r.stdout and 'run' in r.stdout
