"""The project's test suite, as `make test` runs it.

1. `nbdev_export`, then check that no library file changed: notebooks and `dirtymnist/` are in sync.
2. `nbdev_clean`, then check that no notebook changed: notebooks are clean.
3. `nbdev_test` over every notebook (heavy `slow` and `gpu` cells skipped unless --flags names them).

nbdev_test itself prints no counts, so this script runs each notebook through nbdev's own `test_nb`
(what `nbdev_test` calls) in a small process pool and ends with the plain line `N passed, M failed`.
"""
import argparse, hashlib, os, subprocess, sys, time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def digest(paths):
    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in paths if p.is_file()}


def check_unchanged(cmd, pattern, what):
    "Run `cmd`; return the files matching `pattern` that it created, changed or deleted."
    before = digest(ROOT.glob(pattern))
    exe = Path(sys.executable).parent/cmd[0]  # the venv's own nbdev, whatever PATH says
    res = subprocess.run([str(exe) if exe.exists() else cmd[0], *cmd[1:]], cwd=ROOT, capture_output=True, text=True)
    if res.returncode:
        return [f'{cmd[0]} failed:\n{res.stdout}{res.stderr}']
    after = digest(ROOT.glob(pattern))
    changed = sorted(str(p.relative_to(ROOT)) for p in set(before) | set(after) if before.get(p) != after.get(p))
    if changed:
        print(f'FAIL {what}: `{" ".join(cmd)}` changed {", ".join(changed)}')
    return changed


def run_one(fn, flags):
    # each worker gets one core's worth of threads so that two notebooks do not fight over two cores
    os.environ.setdefault('OMP_NUM_THREADS', '1')
    os.environ.setdefault('MKL_NUM_THREADS', '1')
    from nbdev.test import test_nb
    from nbdev.config import get_config
    cfg = get_config()
    skip = [f for f in cfg.tst_flags.split() if f not in flags]
    start = time.time()
    ok, _ = test_nb(Path(fn), skip_flags=skip, force_flags=flags, showerr=True, basepath=cfg.config_path)
    return fn, ok, time.time() - start


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--flags', default='', help='space-separated test flags to run too, e.g. "slow"')
    ap.add_argument('--workers', type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument('--path', default=None, help='run only this notebook or folder')
    ap.add_argument('--skip-checks', action='store_true', help='skip the export/clean checks')
    args = ap.parse_args()
    os.chdir(ROOT)
    t0 = time.time()
    passed = failed = 0
    if not args.skip_checks:
        for cmd, pattern, what in [(['nbdev_export'], 'dirtymnist/**/*.py', 'library and notebooks in sync'),
                                   (['nbdev_clean'], 'nbs/**/*.ipynb', 'notebooks clean')]:
            bad = check_unchanged(cmd, pattern, what)
            if bad: failed += 1
            else: passed += 1; print(f'ok   {what}')
    root = Path(args.path) if args.path else ROOT/'nbs'
    nbs = [root] if root.is_file() else sorted(p for p in root.rglob('*.ipynb')
                                              if not any(part.startswith(('_', '.')) for part in p.relative_to(root).parts))
    flags = args.flags.split()
    # a fresh process per notebook: execnb's IPython shell replaces the worker's __main__, so a worker is never reused
    import multiprocessing as mp
    with ProcessPoolExecutor(max_workers=args.workers, mp_context=mp.get_context('spawn'), max_tasks_per_child=1) as ex:
        futs = [ex.submit(run_one, str(fn), flags) for fn in nbs]
        for fut in as_completed(futs):
            fn, ok, secs = fut.result()
            name = os.path.relpath(fn, ROOT)
            print(f'{"ok  " if ok else "FAIL"} {name} ({secs:.0f}s)', flush=True)
            if ok: passed += 1
            else: failed += 1
    print(f'suite took {time.time() - t0:.0f}s')
    print(f'{passed} passed, {failed} failed')
    sys.exit(1 if failed else 0)


if __name__ == '__main__':
    main()
