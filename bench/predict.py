"""Prediction throughput on this machine: img/s of `dirtymnist.predict.predict`, with and without 4x rot90 TTA.

    nice -n 15 .venv/bin/python bench/predict.py                        # tf_efficientnetv2_b0 at 128 and 256 px, CPU
    .venv/bin/python bench/predict.py --sizes 384 --n 2048 --device cuda --batch-size 256 --threads 0

Images are synthesized contest-like PNGs (dirtymnist.synth when it is available, else noise with drawn letters) in a
temporary folder; the model has random weights (speed does not depend on them). The figure covers the whole `predict`
call: PNG decode, resize, normalise, forward pass(es) and the DataFrame, after one warm-up call.
"""
import argparse, sys, tempfile, time, warnings
from pathlib import Path

import cv2
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # run from a checkout without installing


def make_images(folder, n, seed=0):
    "n 256x256 grey PNGs named 0.png..; from dirtymnist.synth if present, else noise plus drawn letters."
    folder = Path(folder)
    try:
        from dirtymnist.synth import make_image
        from dirtymnist.letters import load_letters
        letters = load_letters(None)
        for i in range(n):
            img = make_image(letters, seed, i)[0]
            cv2.imwrite(str(folder / f'{i}.png'), img)
        return 'dirtymnist.synth'
    except Exception:
        rng = np.random.default_rng(seed)
        for i in range(n):
            img = rng.integers(0, 256, (256, 256), dtype=np.uint8)
            for ch in rng.choice(list('ABCDEFGHIJKLMNOPQRSTUVWXYZ'), rng.integers(10, 15), replace=False):
                x, y = rng.integers(0, 200, 2)
                cv2.putText(img, str(ch), (int(x), int(y) + 40), cv2.FONT_HERSHEY_SIMPLEX, 1.5, 255, 3)
            cv2.imwrite(str(folder / f'{i}.png'), img)
        return 'noise + cv2.putText letters'


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--model', default='tf_efficientnetv2_b0')
    ap.add_argument('--sizes', type=int, nargs='+', default=[128, 256])
    ap.add_argument('--n', type=int, default=128, help='images per timed call')
    ap.add_argument('--batch-size', type=int, default=64)
    ap.add_argument('--threads', type=int, default=1, help='torch CPU threads (0: leave torch default)')
    ap.add_argument('--device', default='cpu')
    ap.add_argument('--repeats', type=int, default=1)
    a = ap.parse_args()
    if a.threads: torch.set_num_threads(a.threads)
    from dirtymnist.model import create_model, save_model
    from dirtymnist.predict import predict
    with tempfile.TemporaryDirectory() as d:
        d = Path(d); (d / 'imgs').mkdir()
        src = make_images(d / 'imgs', a.n)
        print(f'{a.n} images ({src}), model {a.model} (random weights), device {a.device}, '
              f'torch threads {torch.get_num_threads()}, batch {a.batch_size}, torch {torch.__version__}')
        for size in a.sizes:
            net = create_model(a.model, in_chans=1, num_classes=26)
            path = save_model(net, d / f'm{size}', dict(image_size=size))
            for tta in (False, True):
                kw = dict(batch_size=a.batch_size, use_tta=tta, device=a.device, progress=False)
                with warnings.catch_warnings():
                    warnings.simplefilter('ignore')
                    predict(path, sorted((d / 'imgs').glob('*.png'))[:a.batch_size], **kw)   # warm-up
                    best = float('inf')
                    for _ in range(a.repeats):
                        t = time.perf_counter(); predict(path, d / 'imgs', **kw)
                        best = min(best, time.perf_counter() - t)
                print(f'{a.model} {size:4d} px  TTA={"on " if tta else "off"}  {a.n / best:8.1f} img/s  '
                      f'({1000 * best / a.n:.1f} ms/img)', flush=True)


if __name__ == '__main__':
    main()
