"""The exact tested versions of every dependency: `constraints.txt`, and `constraints-gpu.txt` (the same less torch).

settings.ini declares the ranges the package supports (`pip install dirtymnist` keeps a user's own torch when it fits);
the constraints files pin what `make install` and CI install (`pip install -c constraints.txt -e '.[dev]'`), so that two
installs a month apart get the same packages. `constraints-gpu.txt` leaves out torch, torchvision, triton and the CUDA
libraries: on a GPU machine `pip install -c constraints-gpu.txt -e '.[dev]'` keeps its own CUDA torch (if it is in the
range of settings.ini) and pins the rest.

Usage:
  python tools/constraints.py --write   # after changing the environment on purpose: pip freeze of this interpreter
  python tools/constraints.py           # check only (tools/run_tests.py): the two files agree, and every
                                        # requirement of settings.ini is pinned at a version in its range
"""
import argparse, re, shlex, subprocess, sys
from configparser import ConfigParser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FULL, GPU = ROOT/'constraints.txt', ROOT/'constraints-gpu.txt'
# what a CUDA machine brings with its own torch: never pinned by constraints-gpu.txt
TORCH_STACK = re.compile(r'^(torch|torchvision|torchaudio|triton|nvidia-.*|cuda-.*)$', re.I)
HEADER = ('# {what}: written by `python tools/constraints.py --write` from `pip freeze` of the tested venv\n'
          '# (Python {py}, Linux x86_64). Ranges the package supports: settings.ini `requirements`.\n')


def norm(name): return re.sub(r'[-_.]+', '-', name).lower()


def parse(path):
    "name -> version of a constraints file's `name==version` lines; a bad line is an error naming file and line."
    pins = {}
    for i, line in enumerate(Path(path).read_text().splitlines(), 1):
        line = line.split('#')[0].strip()
        if not line: continue
        m = re.fullmatch(r'([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;]+)', line)
        if not m: raise SystemExit(f'{path}:{i}: not a `name==version` line: {line!r}')
        pins[norm(m[1])] = (m[1], m[2])
    return pins


def declared():
    "The requirements settings.ini declares (requirements and dev_requirements), as `packaging` Requirements."
    from packaging.requirements import Requirement
    cfg = ConfigParser(delimiters=['=']); cfg.read(ROOT/'settings.ini')
    reqs = shlex.split(cfg['DEFAULT'].get('requirements', '')) + shlex.split(cfg['DEFAULT'].get('dev_requirements', ''))
    return [Requirement(r) for r in reqs]


def write():
    out = subprocess.run([sys.executable, '-m', 'pip', 'freeze', '--exclude-editable'], capture_output=True, text=True,
                         check=True).stdout
    lines = sorted((ln for ln in out.splitlines() if '==' in ln and not ln.startswith(('#', '-e'))), key=str.lower)
    lines = [ln for ln in lines if norm(ln.split('==')[0]) != 'dirtymnist']
    py = '.'.join(map(str, sys.version_info[:2]))
    FULL.write_text(HEADER.format(what='exact tested versions', py=py) + '\n'.join(lines) + '\n')
    GPU.write_text(HEADER.format(what='the same less the torch stack (a GPU machine keeps its own)', py=py)
                   + '\n'.join(ln for ln in lines if not TORCH_STACK.match(ln.split('==')[0])) + '\n')
    print(f'wrote {FULL.name} ({len(lines)} pins) and {GPU.name}')


def check():
    full, gpu = parse(FULL), parse(GPU)
    want = {k: v for k, v in full.items() if not TORCH_STACK.match(k)}
    errors = [f'{GPU.name}: {k} is {gpu.get(k, ("", "missing"))[1]}, {FULL.name} says {v[1]}'
              for k, v in want.items() if gpu.get(k) != v]
    errors += [f'{GPU.name}: {k} pins the torch stack or is not in {FULL.name}' for k in gpu if k not in want]
    for r in declared():
        pin = full.get(norm(r.name))
        if pin is None: errors.append(f'{FULL.name}: settings.ini requires {r.name}, which is not pinned')
        elif not r.specifier.contains(pin[1], prereleases=True):
            errors.append(f'{FULL.name}: {pin[0]}=={pin[1]} is outside settings.ini\'s range {r}')
    for e in errors: print(e)
    print(f'constraints: {len(errors)} problem(s)' if errors else
          f'constraints: {len(full)} pins, the two files agree and fit settings.ini')
    return not errors


if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--write', action='store_true', help='rewrite both files from pip freeze of this interpreter')
    if p.parse_args().write: write()
    sys.exit(0 if check() else 1)
