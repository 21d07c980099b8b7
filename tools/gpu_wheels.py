"""The small set of wheels that installs dirtymnist on a GPU machine without network, beside that machine's own torch.

Run here (with network), carry the folder over, then on the GPU machine (its CUDA torch >= 2.3 and Jupyter there):

    python tools/gpu_wheels.py                      # here: build/gpu-wheels/ for this Python (make gpu-wheels)
    python tools/gpu_wheels.py --python-version 3.10 --dest build/gpu-wheels-py310   # for another Python
    pip install --no-index --no-deps gpu-wheels/*.whl   # there: the one install command; torch stays as it is
    pip check                                        # there: lists anything still missing or out of range

What goes in: the project's own wheel (`pip wheel --no-deps`), and the distributions the GPU check imports (its stages,
papermill and the kernel; measured by importing them in a fresh interpreter here) less those a CUDA machine with a
scientific Python and Jupyter already has (BASE below: torch and the CUDA libraries, numpy, pandas, matplotlib,
scipy, the Jupyter stack, requests...). Each at its version in constraints.txt, downloaded with `pip download --no-deps
--only-binary=:all:` for the target Python and manylinux x86_64; a pin without a wheel for that Python falls back to
the newest release that has one, and MANIFEST.txt in the folder says which. `--full` carries the whole measured set
(for a bare Python with only torch). Nothing is installed here.
"""
import argparse, json, re, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT/'tools'))
from constraints import FULL as CONSTRAINTS, norm, parse   # noqa: E402

# what the GPU check imports: every stage, papermill and the kernel it starts
MODULES = ['dirtymnist.learner', 'dirtymnist.predict', 'dirtymnist.recipe_fast', 'dirtymnist.evaluate',
           'dirtymnist.synth', 'dirtymnist.data', 'dirtymnist.ensemble', 'papermill', 'papermill.cli',
           'ipykernel.kernelapp', 'nbclient']
BASE = re.compile(r'^(torch|torchvision|triton|nvidia-.*|cuda-.*|numpy|pillow|pandas|matplotlib|cycler|kiwisolver|'
                  r'fonttools|pyparsing|contourpy|python-dateutil|six|tzdata|pytz|scipy|scikit-learn|joblib|'
                  r'threadpoolctl|pyyaml|requests|urllib3|idna|certifi|charset-normalizer|packaging|typing-extensions|'
                  r'filelock|fsspec|'
                  r'sympy|mpmath|networkx|jinja2|markupsafe|setuptools|tqdm|psutil|platformdirs|attrs|pygments|'
                  r'ipykernel|ipython|jupyter-client|jupyter-core|traitlets|tornado|pyzmq|comm|nbformat|nbclient|'
                  r'jsonschema|jsonschema-specifications|referencing|rpds-py|fastjsonschema|anyio|h11|sniffio|arrow|'
                  r'fqdn|isoduration|jsonpointer|uri-template|webcolors|rfc3339-validator|rfc3986-validator|'
                  r'rfc3987-syntax|lark|defusedxml|debugpy|matplotlib-inline|click|rich|markdown-it-py|mdurl|'
                  r'truststore)$')
PROBE = '''import importlib, importlib.metadata as md, json, os, sys
for m in sys.argv[1:]: importlib.import_module(m)
owner = {}
for d in md.distributions():
    for f in d.files or []: owner[os.path.realpath(d.locate_file(f))] = d.metadata['Name']
files = {os.path.realpath(m.__file__) for m in list(sys.modules.values()) if getattr(m, '__file__', None)}
print(json.dumps(sorted({owner[f] for f in files if f in owner})))
'''


def imported():
    "The distributions whose files the GPU check's imports load, in a fresh interpreter of this environment."
    r = subprocess.run([sys.executable, '-c', PROBE, *MODULES], capture_output=True, text=True, cwd=ROOT)
    if r.returncode: sys.exit(f'importing the GPU check\'s modules failed:\n{r.stderr[-2000:]}')
    return [norm(d) for d in json.loads(r.stdout.strip().splitlines()[-1])]


def pip(*args):
    return subprocess.run([sys.executable, '-m', 'pip', *args], capture_output=True, text=True)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--dest', default=str(ROOT/'build'/'gpu-wheels'), help='folder for the wheels')
    p.add_argument('--python-version', default='.'.join(map(str, sys.version_info[:2])),
                   help='the GPU machine\'s Python, e.g. 3.10 (default: this one\'s)')
    p.add_argument('--full', action='store_true', help='carry everything imported but the torch stack')
    p.add_argument('--list', action='store_true', help='only print what would be carried')
    a = p.parse_args(argv)
    pins = parse(CONSTRAINTS)
    stack = re.compile(r'^(torch|torchvision|triton|nvidia-.*|cuda-.*)$')
    names = [d for d in imported() if d != 'dirtymnist' and not (stack if a.full else BASE).match(d)]
    missing = [d for d in names if d not in pins]
    if missing:
        sys.exit(f'{CONSTRAINTS.name} pins no version of {", ".join(missing)}: run tools/constraints.py --write')
    print(f'{len(names)} distributions to carry for Python {a.python_version}: '
          + ' '.join(f'{pins[d][0]}=={pins[d][1]}' for d in names))
    if a.list: return names
    dest = Path(a.dest); dest.mkdir(parents=True, exist_ok=True)
    r = pip('wheel', '--no-deps', '--no-build-isolation', '-q', '-w', str(dest), str(ROOT))
    if r.returncode: sys.exit(f'pip wheel of the project failed:\n{r.stderr[-2000:]}')
    plat = [x for pl in ('manylinux2014_x86_64', 'manylinux_2_17_x86_64', 'manylinux_2_28_x86_64', 'linux_x86_64')
            for x in ('--platform', pl)]
    common = ['download', '--no-deps', '--only-binary=:all:', '--python-version', a.python_version, '--implementation',
              'cp', *plat, '-q', '-d', str(dest)]
    manifest = []
    for d in names:
        name, ver = pins[d]
        r = pip(*common, f'{name}=={ver}')
        if r.returncode == 0: manifest.append(f'{name}=={ver}'); continue
        r = pip(*common, name)   # the pin has no wheel for that Python: the newest release that has one
        if r.returncode: sys.exit(f'no wheel of {name} for Python {a.python_version}:\n{r.stderr[-1500:]}')
        got = sorted(dest.glob(f'{re.sub("[-.]", "_", name)}-*.whl'), key=lambda f: f.stat().st_mtime)
        manifest.append(f'{name}: {got[-1].name if got else "?"} (constraints.txt pins {ver}, which has no wheel '
                        f'for Python {a.python_version})')
        print(manifest[-1])
    (dest/'MANIFEST.txt').write_text(f'# tools/gpu_wheels.py for Python {a.python_version}; install with\n'
                                     f'#   pip install --no-index --no-deps {dest.name}/*.whl\n'
                                     + '\n'.join(manifest) + '\n')
    wheels = sorted(dest.glob('*.whl'))
    mb = sum(f.stat().st_size for f in wheels) / 2**20
    print(f'{len(wheels)} wheels, {mb:.0f} MB in {dest}; on the GPU machine: pip install --no-index --no-deps '
          f'{dest.name}/*.whl && pip check')
    return names


if __name__ == '__main__':
    main()
