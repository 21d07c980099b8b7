"""CPU cost per image of the data pipeline (`dirtymnist.data`), in ms per image per core.

Usage: python bench/data.py [--n 256] [--sizes 384 128]

Everything runs in this one process on one thread (torch and OpenCV), with no DataLoader workers, so the figures
are CPU milliseconds per image per core (best of 3 runs). Rows:
  original    the winning solution's per-image pipeline: albumentations resize, rot90, shift-scale-rotate, cutout,
              normalise to float, to tensor (what it ran in its DataLoader workers)
  cpu item    our CPU path, per item: PNG decode + seeded albumentations (uint8) -> tensor
  cpu batch   our CPU path, the whole DataLoader pass (items, collate, uint8->float, normalise), per image
  gpu item    our GPU path, per item (the only CPU work a worker does): PNG decode -> tensor
  gpu batch   our GPU path's batch transforms, here run on the CPU (on a GPU they cost the CPU nothing)
  synth       online synthesis of one 256 px image (`dirtymnist.synth.make_image`), on top of the item cost
"""
import argparse, os, sys, tempfile, time
from pathlib import Path

import cv2
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from dirtymnist.config import load_config
from dirtymnist.data import get_dls, set_loader_epoch
from dirtymnist.labels import VOCAB, write_labels


def cpu_ms(f, n, repeats=3):
    "CPU ms per unit of f() doing `n` units: process CPU time on one thread, the best of `repeats` runs."
    best = float('inf')
    for _ in range(repeats):
        t0 = time.process_time(); f(); best = min(best, time.process_time() - t0)
    return best * 1000 / n


def make_files(folder, n):
    "n contest-like 256 px PNGs (synthesized from the built-in letters) and their labels CSV."
    from dirtymnist.letters import load_letters
    from dirtymnist.synth import make_image
    import pandas as pd
    letters = load_letters('builtin')
    rows = []
    for i in range(n):
        img, lab = make_image(letters, 0, i)
        cv2.imwrite(str(folder/f'{i}.png'), img); rows.append(lab)
    frame = pd.DataFrame(np.array(rows), columns=VOCAB, index=pd.Index(range(n), name='index'))
    write_labels(frame, folder/'labels.csv')
    return dict(filenames=str(folder/'*.png'), labels=str(folder/'labels.csv'))


def original(size):
    import albumentations as A
    from albumentations.pytorch import ToTensorV2
    return A.Compose([A.Resize(size, size), A.RandomRotate90(p=1.0),
                      A.Affine(scale=(0.9, 1.1), translate_percent=(-0.0625, 0.0625), rotate=(-15, 15),
                               border_mode=cv2.BORDER_REFLECT_101, p=0.5),
                      A.CoarseDropout(num_holes_range=(1, 1), hole_height_range=(0.3, 0.3), hole_width_range=(0.3, 0.3),
                                      fill=0, p=0.5),
                      A.Normalize(mean=0.5, std=0.5), ToTensorV2()])


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--n', type=int, default=256, help='images per measurement')
    p.add_argument('--sizes', type=int, nargs='+', default=[384, 128])
    a = p.parse_args()
    torch.set_num_threads(1); cv2.setNumThreads(0)
    tmp = Path(tempfile.mkdtemp())
    src = make_files(tmp, a.n)
    paths = sorted(tmp.glob('*.png'))
    print(f'{a.n} images of 256 px, torch {torch.__version__}, 1 thread, {os.cpu_count()} CPUs on this machine')
    print(f'{"pipeline":<12}' + ''.join(f'{s:>10} px' for s in a.sizes) + '   (CPU ms per image per core)')
    res = {}
    for s in a.sizes:
        cfg = load_config(dict(data=dict(train=[src], validation=src, image_size=s, num_workers=0),
                               train=dict(batch_size=32)))
        aug = original(s)
        res.setdefault('original', []).append(
            cpu_ms(lambda: [aug(image=cv2.imread(str(f), cv2.IMREAD_GRAYSCALE))['image'] for f in paths], a.n))
        for mode in ('cpu', 'gpu'):
            dls = get_dls(cfg, device='cpu', aug=mode)
            ds = dls.train_ds
            set_loader_epoch(dls, 0)
            res.setdefault(f'{mode} item', []).append(cpu_ms(lambda: [ds[i] for i in range(len(ds))], len(ds)))
            nb = len(dls.train) * dls.train.bs
            res.setdefault(f'{mode} batch', []).append(cpu_ms(lambda: [b for b in dls.train], nb))
        ocfg = load_config('cpu_small', [f'data.image_size={s}', f'data.num_train={a.n}', 'data.num_valid=8',
                                         'data.num_workers=0'])
        do = get_dls(ocfg, device='cpu', aug='cpu'); t = do.table
        res.setdefault('synth', []).append(cpu_ms(lambda: [t.image(i) for i in range(a.n)], a.n))
    gb = [x - y for x, y in zip(res['gpu batch'], res['gpu item'])]
    res['gpu batch'] = [max(0.0, v) for v in gb]  # batch transforms alone: whole pass minus the items
    for k in ('original', 'cpu item', 'cpu batch', 'gpu item', 'gpu batch', 'synth'):
        print(f'{k:<12}' + ''.join(f'{v:>13.3f}' for v in res[k]))


if __name__ == '__main__': main()
