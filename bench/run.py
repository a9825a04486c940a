"""neuro_decode benchmarks: `make bench`. Prints one table; later issues add rows (GLM, ridge, GRU).

Measures wall time and peak memory (VmHWM, the RSS high-water mark of a fresh process per case; ru_maxrss
would inherit the parent's), on this machine.
"""
import json, os, subprocess, sys, tempfile, time
from pathlib import Path
import pandas as pd

CASES = {
    'simulate tiny (2 subjects)': "from neuro_decode.simulate import simulate_nsd; simulate_nsd(D+'/sim', 'tiny', progress=False)",
    'simulate default (4 subjects)': "from neuro_decode.simulate import simulate_nsd; simulate_nsd(D+'/sim', 'default', progress=False)",
}
PREP = ("from neuro_decode.nsd import prepare_subject; prepare_subject(SIM, 1, D+'/run', fmt='{fmt}', progress=False)")

def measure(code, env_extra=None):
    "Run `code` in a fresh Python; return seconds and peak RSS (MB)."
    with tempfile.TemporaryDirectory() as d:
        src = (f"import time, json; D={d!r}; SIM={env_extra!r}\nt=time.perf_counter()\n{code}\n"
               "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1]\n"
               "print(json.dumps([time.perf_counter()-t, int(hwm)/1024]))")
        out = subprocess.run([sys.executable, '-c', src], capture_output=True, text=True, check=True).stdout
        return json.loads(out.strip().splitlines()[-1])

def main():
    rows = []
    for name, code in CASES.items():
        s, mb = measure(code); rows.append(dict(benchmark=name, seconds=round(s, 2), peak_MB=round(mb)))
        print(f'  {name}: {s:.1f} s', file=sys.stderr)
    with tempfile.TemporaryDirectory() as d:
        from neuro_decode.simulate import simulate_nsd
        sim = str(simulate_nsd(Path(d)/'sim', 'default', progress=False))
        for fmt in ('nii.gz', 'hdf5'):
            s, mb = measure(PREP.format(fmt=fmt), sim)
            rows.append(dict(benchmark=f'prepare subject 1, default, betas as {fmt}', seconds=round(s, 2), peak_MB=round(mb)))
    print(pd.DataFrame(rows).to_markdown(index=False))

if __name__ == '__main__': main()
