"""The project's test suite, as `make test` runs it.

1. `nbdev_export`, then check that no library file changed: notebooks and `dirtymnist/` are in sync.
2. `nbdev_clean`, then check that no notebook changed: notebooks are clean.
3. `tools/constraints.py`: the exact-version files (constraints.txt, constraints-gpu.txt) agree with each other and
   with settings.ini.
4. `bench/gpu_check.py --dry-run`: every stage of the GPU check on the CPU at tiny sizes (about 1.5 minutes), so that a
   mistake in it cannot waste the first minutes of a GPU.
5. `nbdev_test` over every notebook (heavy `slow` and `gpu` cells skipped unless --flags names them).
6. nbdev's docs processing of every notebook (`tools/docs.py --check`: what `nbdev_proc_nbs` runs, into a temp folder).

Step 5 is `nbdev_test` itself (the command the README names, with its pool of reused worker processes), so the two
cannot drift apart; nbdev_test prints no counts, so this script reads its list of failed notebooks and ends with the
plain line `N passed, M failed` that CI looks for.
"""
import argparse, hashlib, os, subprocess, sys, tempfile, time
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


def run_step(cmd, what, tail=25):
    "Run `cmd` (this interpreter); True if it exits 0, else print its last lines and False."
    t = time.time()
    res = subprocess.run([sys.executable, *cmd], cwd=ROOT, capture_output=True, text=True,
                         env={'OMP_NUM_THREADS': '1', 'MKL_NUM_THREADS': '1', **os.environ})
    if res.returncode:
        print('\n'.join((res.stdout + res.stderr).splitlines()[-tail:]))
        print(f'FAIL {what}: `{" ".join(cmd)}` exited {res.returncode}')
        return False
    print(f'ok   {what} ({time.time() - t:.0f}s)', flush=True)
    return True


def notebooks(path=None):
    "The notebooks `nbdev_test --path path` tests: nbdev's own glob and `.notest` rule."
    from nbdev.test import nbglob, _keep_file
    return [f.absolute() for f in sorted(nbglob(path, as_path=True)) if _keep_file(f, '.notest')]


def run_nbdev_test(path, flags, workers):
    "Run `nbdev_test` itself, streaming its output; returns (passed, failed) notebook names."
    files = notebooks(path)
    exe = Path(sys.executable).parent/'nbdev_test'
    cmd = [str(exe) if exe.exists() else 'nbdev_test', '--n_workers', str(workers), '--do_print', '--timing']
    if flags: cmd += ['--flags', ' '.join(flags)]
    if path: cmd += ['--path', str(path)]
    print('$ nbdev_test ' + ' '.join(cmd[1:]), flush=True)
    # one core's worth of threads per worker, so that two notebooks do not fight over two cores
    env = {'OMP_NUM_THREADS': '1', 'MKL_NUM_THREADS': '1', **os.environ}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            bufsize=1)
    failed, in_list = [], False
    for line in proc.stdout:
        print(line, end='', flush=True)
        if 'nbdev Tests Failed On The Following Notebooks' in line: in_list = True
        elif in_list and line.startswith('\t'): failed.append(line.strip())
    rc = proc.wait()
    names = [f.name for f in files]
    if rc and not failed: failed = names   # nbdev_test itself failed before it could say which notebooks did
    return [n for n in names if n not in failed], failed


def check_docs_processing():
    "Step 4: nbdev's notebook processing for the docs site succeeds for every notebook (tools/docs.py --check)."
    res = subprocess.run([sys.executable, str(ROOT/'tools'/'docs.py'), '--check'], cwd=ROOT)
    print('ok   docs processing' if res.returncode == 0 else 'FAIL docs processing (tools/docs.py --check)', flush=True)
    return res.returncode == 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--flags', default='', help='space-separated test flags to run too, e.g. "slow"')
    ap.add_argument('--workers', type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument('--path', default=None, help='run only this notebook or folder')
    ap.add_argument('--skip-checks', action='store_true', help='skip the export/clean checks')
    ap.add_argument('--skip-gpu-check', action='store_true',
                    help='skip the constraints check and the GPU check dry run')
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
    if args.path is None and not args.skip_gpu_check:
        with tempfile.TemporaryDirectory() as out:
            for cmd, what in [(['tools/constraints.py'], 'constraints files agree'),
                              (['bench/gpu_check.py', '--dry-run', '--out', out], 'GPU check, dry run on the CPU')]:
                if run_step(cmd, what): passed += 1
                else: failed += 1
    ok, bad = run_nbdev_test(args.path, args.flags.split(), args.workers)
    passed, failed = passed + len(ok), failed + len(bad)
    for n in bad: print(f'FAIL {n}')
    if not (args.skip_checks or args.path): docs_ok = check_docs_processing(); passed += docs_ok; failed += not docs_ok
    print(f'suite took {time.time() - t0:.0f}s')
    print(f'{passed} passed, {failed} failed')
    sys.exit(1 if failed else 0)


if __name__ == '__main__':
    main()
