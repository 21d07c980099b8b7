"""Synthesis speed and memory: img/s to PNG with 2 workers, img/s in memory, peak memory as N grows.

    .venv/bin/python bench/synth.py                 # real letters if ../shared/realdata is there, else built-in
    .venv/bin/python bench/synth.py --n 8000 --letters builtin

Wall-clock rates depend on what else the machine runs, so each figure also comes as a CPU-time rate
(images per CPU-second of the processes that did the work, times the worker count): what the same code
gives on otherwise idle cores. The load average is printed alongside.
"""
import argparse, json, os, shutil, subprocess, sys, tempfile, time
from pathlib import Path

import cv2

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from dirtymnist.letters import find_realdata, load_letters
from dirtymnist.synth import synth_batch


def letters_from(name):
    if name == 'real':
        rd = find_realdata()
        if rd is None: sys.exit('no ../shared/realdata here: use --letters builtin')
        return load_letters(rd/'mnist_data'/'train.csv')
    return load_letters(None if name == 'builtin' else name)


def _mem_worker(args):
    src, seed, lo, hi = args
    cv2.setNumThreads(0)
    L = letters_from(src)
    t = time.process_time()
    for s in range(lo, hi, 250): synth_batch(L, seed, range(s, min(s + 250, hi)))
    return time.process_time() - t


def in_memory(src, n, workers):
    "img/s making `n` images in memory with `workers` processes (wall and CPU-time rates)."
    import multiprocessing as mp
    spans = [(src, 0, i * n // workers, (i + 1) * n // workers) for i in range(workers)]
    if workers == 1:
        letters_from(src)  # warm caches before timing
        t = time.time(); cpu = _mem_worker(spans[0]); wall = time.time() - t
    else:
        with mp.get_context('fork').Pool(workers) as pool:
            pool.map(_mem_worker, [(src, 9, 0, 20)] * workers)  # warm up the workers
            t = time.time(); cpu = sum(pool.map(_mem_worker, spans)); wall = time.time() - t
    return n / wall, n / cpu * workers


def to_png(src, n, workers, out):
    "Run synthesize in a child process; its wall rate, CPU-time rate and peak RSS (parent, largest worker)."
    code = f'''
import json, resource, sys, time, os
sys.path.insert(0, {str(ROOT)!r})
from bench.synth import letters_from
from dirtymnist.synth import synthesize
L = letters_from({src!r})
t = time.time(); c0 = os.times()
synthesize(L, {str(out)!r}, num_images={n}, workers={workers}, progress=False, overwrite=True)
wall = time.time() - t; c1 = os.times()
cpu = ((c1.user + c1.system + c1.children_user + c1.children_system)
       - (c0.user + c0.system + c0.children_user + c0.children_system))
print(json.dumps(dict(wall=wall, cpu=cpu, rss=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                      child_rss=resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)))
'''
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, cwd=ROOT)
    if r.returncode: sys.exit(r.stderr)
    d = json.loads(r.stdout.strip().splitlines()[-1])
    nbytes = sum(f.stat().st_size for f in Path(out).glob('*.png'))
    return n / d['wall'], n / d['cpu'] * workers, d['rss'] / 1024, d['child_rss'] / 1024, nbytes


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--n', type=int, default=4000, help='images per measurement')
    p.add_argument('--workers', type=int, default=2)
    p.add_argument('--letters', default=None, help="'real' (default when available), 'builtin', or a letter CSV")
    p.add_argument('--out', default=None, help='scratch folder for PNGs (default: a temp folder, removed after)')
    a = p.parse_args()
    src = a.letters or ('real' if find_realdata() else 'builtin')
    print(f'letters: {src}; cores: {os.cpu_count()}; load average before: {os.getloadavg()[0]:.1f}')
    w1, c1 = in_memory(src, a.n, 1)
    print(f'in memory, 1 process : {w1:7.0f} img/s wall, {c1:7.0f} img/s per CPU-time')
    w2, c2 = in_memory(src, a.n, a.workers)
    print(f'in memory, {a.workers} processes: {w2:7.0f} img/s wall, {c2:7.0f} img/s by CPU-time '
          f'({a.workers} idle cores)')
    scratch = Path(a.out or tempfile.mkdtemp(prefix='dirtymnist-bench-'))
    try:
        for n in (a.n // 4, a.n):
            w, c, rss, crss, nb = to_png(src, n, a.workers, scratch/f'png{n}')
            print(f'to PNG, {a.workers} workers, N={n:6d}: {w:7.0f} img/s wall, {c:7.0f} img/s by CPU-time; '
                  f'{nb / n / 1e3:.1f} kB/img; peak RSS parent {rss:.0f} MB, largest worker {crss:.0f} MB')
            shutil.rmtree(scratch/f'png{n}')
    finally:
        if a.out is None: shutil.rmtree(scratch, ignore_errors=True)
    print(f'load average after: {os.getloadavg()[0]:.1f}')


if __name__ == '__main__':
    main()
