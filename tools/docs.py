"""nbdev's documentation build, without its side effects.

    python tools/docs.py --check    # nbdev's notebook processing of every notebook, into a temp folder (`make test`)
    python tools/docs.py            # the site in _docs/ (`make docs`; needs https://quarto.org/docs/get-started/)

nbdev builds a site in two steps: it processes every notebook (`nbdev_proc_nbs`: the frontmatter, a `show_doc` cell
after each exported definition, and it *runs* the cells those need: every `#| export` cell and every cell with an
import), then hands the result to Quarto. So a notebook passes only if its export cells are self-contained and its
imports sit in cells of their own (nbdev's rule): a cell that mixes an import with a test runs that test at docs time,
without the cells before it. `--check` runs nbdev's own processors (`nbdev.serve_drv.main` with `FilterDefaults`, what
`proc_nbs` runs on each file) one notebook per process, and fails on an error or on nbdev's "imports and other code"
warning.

Why not `nbdev_docs` itself: without Quarto it downloads Quarto with sudo and `pip install -e`s this repository into
whatever environment is active, and it regenerates README.md with Quarto (this project makes README.md with
tools/readme.py). This script never installs anything: it builds only when `quarto` is on the PATH.
"""
import argparse, os, shutil, subprocess, sys, tempfile, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_PROC_ONE = '''
import sys, warnings
from pathlib import Path
import nbdev.serve_drv
from nbdev.processors import FilterDefaults
with warnings.catch_warnings(record=True) as ws:
    warnings.simplefilter('always')
    try: nbdev.serve_drv.main((Path(sys.argv[1]), Path(sys.argv[2]), FilterDefaults))
    except Exception as e:
        c = e.__cause__
        sys.exit(str(e).strip() + (f'\\n-> {type(c).__name__}: {c}' if c else ''))
mixed = [str(w.message).split('---')[1].strip() for w in ws if 'imports and other code' in str(w.message)]
if mixed: sys.exit('a cell mixes imports with other code (nbdev runs it for the docs; put the imports in a cell of '
                   'their own):\\n' + mixed[0])
'''


def check(paths=None, workers=2):
    "nbdev's processing of each notebook (default: all of nbs/) into a temp folder; returns the names that failed."
    def hidden(p): return any(part.startswith(('.', '_')) for part in p.relative_to(ROOT/'nbs').parts)
    nbs = ([Path(p).resolve() for p in paths] if paths else   # nbs/ and its folders, as nbdev globs them
           sorted(p for p in (ROOT/'nbs').rglob('*.ipynb') if not hidden(p)))
    tmp = Path(tempfile.mkdtemp(prefix='dirtymnist-docs-'))
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get('PYTHONPATH')) if p)
    env = {**os.environ, 'OMP_NUM_THREADS': '1', 'PYTHONPATH': path}
    def one(i):   # from the repository root, as `nbdev_docs` runs
        return subprocess.run([sys.executable, '-c', _PROC_ONE, str(nbs[i]), str(tmp/f'{i}-{nbs[i].name}')], cwd=ROOT,
                              env=env, capture_output=True, text=True)
    t0 = time.time()
    with ThreadPoolExecutor(workers) as ex: res = list(ex.map(one, range(len(nbs))))
    shutil.rmtree(tmp, ignore_errors=True)
    bad = [p.name for p, r in zip(nbs, res) if r.returncode]
    for p, r in zip(nbs, res):
        if r.returncode:
            print(f'FAIL docs processing {p.name}:\n    ' + '\n    '.join(r.stderr.strip().splitlines()[-12:]))
    print(f'docs processing: {len(nbs) - len(bad)} of {len(nbs)} notebooks pass ({time.time() - t0:.0f} s)', flush=True)
    return bad


def build():
    "The site in _docs/: the steps of `nbdev_docs` but its README and install steps, then `quarto render`."
    quarto = shutil.which('quarto')
    if quarto is None:
        sys.exit('docs.py: Quarto is not installed; get it from https://quarto.org/docs/get-started/ and run again '
                 '(nothing was installed)')
    os.chdir(ROOT)
    from nbdev.config import get_config
    from nbdev.doclinks import _build_modidx
    from nbdev.quarto import nbdev_sidebar, refresh_quarto_yml
    from nbdev.serve import proc_nbs
    cfg = get_config()
    refresh_quarto_yml()   # writes nbs/nbdev.yml from settings.ini; keeps the repository's nbs/_quarto.yml
    _build_modidx()
    nbdev_sidebar.__wrapped__(path=cfg.nbs_path)
    cache = proc_nbs(cfg.nbs_path, n_workers=2)
    subprocess.run([quarto, 'render', '--no-cache'], cwd=cache, check=True)
    shutil.rmtree(cfg.doc_path, ignore_errors=True)
    shutil.move(str(cache/cfg.doc_path.name), str(cfg.config_path))
    print(f'docs.py: the site is in {cfg.doc_path} (open {cfg.doc_path}/index.html)')


if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--check', action='store_true', help="only nbdev's notebook processing, into a temp folder")
    ap.add_argument('notebooks', nargs='*', help='with --check: these notebooks only')
    args = ap.parse_args()
    if args.check: sys.exit(1 if check(args.notebooks) else 0)
    build()
