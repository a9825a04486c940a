"""neuro_decode benchmarks: `make bench`. Prints one table; later issues add rows (GLM, ridge, GRU).

Measures wall time and peak memory (VmHWM, the RSS high-water mark of a fresh process per case; ru_maxrss
would inherit the parent's), on this machine.
"""
import json, subprocess, sys, tempfile
from pathlib import Path
import pandas as pd

SIMULATE = "from neuro_decode.simulate import simulate_nsd; simulate_nsd(D+'/sim', '{preset}', progress=False)"
PREPARE = "from neuro_decode.nsd import prepare_subject; prepare_subject(D+'/sim', 1, D+'/run-{fmt}', fmt='{fmt}', progress=False)"

def measure(code:str, d:str)->tuple:
    "Run `code` in a fresh Python with `D` = folder `d`; return (seconds, peak RSS in MB)."
    src = (f"import time, json; D={d!r}\nt=time.perf_counter()\n{code}\n"
           "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1]\n"
           "print(json.dumps([time.perf_counter()-t, int(hwm)/1024]))")
    out = subprocess.run([sys.executable, '-c', src], capture_output=True, text=True, check=True).stdout
    return tuple(json.loads(out.strip().splitlines()[-1]))

def main():
    rows = []
    def add(name, code, d):
        s, mb = measure(code, d); rows.append(dict(benchmark=name, seconds=round(s, 2), peak_MB=round(mb)))
        print(f'  {name}: {s:.1f} s', file=sys.stderr)
    with tempfile.TemporaryDirectory() as d:
        add('simulate tiny (2 subjects)', SIMULATE.format(preset='tiny'), d)
    with tempfile.TemporaryDirectory() as d:     # the default world, simulated once, is then read back
        add('simulate default (4 subjects)', SIMULATE.format(preset='default'), d)
        for fmt in ('nii.gz', 'hdf5'):
            add(f'prepare subject 1, default, betas as {fmt}', PREPARE.format(fmt=fmt), d)
    print(pd.DataFrame(rows).to_markdown(index=False))

if __name__ == '__main__': main()
