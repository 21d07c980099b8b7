"""How many images a network from scratch needs to start finding letters (issue 28): one learning curve per run.

Usage: python bench/timm_start.py MODEL [--variant default|nodrop|max|max_os16|planes|planes_avg]
       [--data curriculum|contest]
       [--loop learner|bare] [--images 8000] [--every 1600] [--size 128] [--lr 2e-3] [--out CSV]

The data: images synthesized once in memory (256 px, resized to `--size` as the loaders do) from the real training
letters (all but the last 3000 rows of ../shared/realdata/mnist_data/test-split-1.csv; built-in letters when absent),
`curriculum` = 1-3 letters an image, `contest` = 10-14; every image is seen once (no epoch repeats); the winner's
augmentation per batch (`dirtymnist.data.augment_batch`: quarter turns, shift-scale-rotate, cutout); validation on 400
fixed images of the held-out letters. `--loop learner` trains through `dirtymnist.learner.build_learner` with the
`cpu_small` config (the `standard` recipe: BCE, the timm AdamW, a cosine per `--every` images); `--loop bare` trains
the same model on the same batches with a plain torch loop (AdamW, the same cosine), as issue 28's control.
Variants (timm kwargs): `default` = cpu_small's drop_rate 0.2 / drop_path_rate 0.1 and the model's own pooling;
`nodrop` = no drop rates; `max` = no drop rates, global max pooling; `max_os16` = `max` and output_stride=16;
`planes` = `max` with a stem change: the model (in_chans=2) reads `dirtymnist.nets.ink_planes(x, 1)` (share of
saturated pixels, mean grey) instead of the grey image; `planes_avg` = the same with the model's own pooling.
`--lr` sets the learning rate of every variant.
Appends one row per validation to `--out` (default nbs/research/timm_curves.csv): model, variant, data, loop, size,
lr, images, minutes (training only), images_s, auc (mean ROC AUC over the 26 letters), accuracy (contest metric at
0.5), loss (validation BCE), threads, cpu.
"""
import argparse, csv, math, sys, time, warnings
from pathlib import Path

import cv2, numpy as np, torch, torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from dirtymnist.letters import find_realdata, load_letters, read_letter_csv   # noqa: E402
from dirtymnist.synth import make_image   # noqa: E402
from dirtymnist.data import augment_batch   # noqa: E402
from dirtymnist.evaluate import contest_accuracy   # noqa: E402

VARIANTS = {'default': dict(drop_rate=0.2, drop_path_rate=0.1), 'nodrop': dict(drop_rate=0.0, drop_path_rate=0.0),
            'max': dict(drop_rate=0.0, drop_path_rate=0.0, global_pool='max'),
            'max_os16': dict(drop_rate=0.0, drop_path_rate=0.0, global_pool='max', output_stride=16),
            'planes': dict(drop_rate=0.0, drop_path_rate=0.0, global_pool='max'),
            'planes_avg': dict(drop_rate=0.0, drop_path_rate=0.0)}


class Planes(torch.nn.Module):
    "`model` (built with in_chans=2) reading WindowNet's two planes of the grey image: saturated share, mean grey."
    def __init__(self, model):
        super().__init__(); self.model = model
    def forward(self, x):
        from dirtymnist.nets import ink_planes
        return self.model(torch.cat(ink_planes(x, 1), 1))


def letters_pair():
    "(training letters, validation letters): the real letters split as tools/demo.py does, else the built-in ones."
    real = find_realdata()
    csv_path = real/'mnist_data'/'test-split-1.csv' if real else None
    if csv_path is None or not csv_path.is_file():
        print('real letters absent: built-in letters', file=sys.stderr)
        return load_letters('builtin', 'train'), load_letters('builtin', 'valid')
    import pandas as pd
    from dirtymnist.letters import Letters  # noqa: F401
    cache = Path('/tmp/dm_timm_start'); cache.mkdir(exist_ok=True)
    df = pd.read_csv(csv_path)
    a, b = cache/'letters-train.csv', cache/'letters-valid.csv'
    if not a.is_file(): df.iloc[:-3000].to_csv(a, index=False); df.iloc[-3000:].to_csv(b, index=False)
    return read_letter_csv(a), read_letter_csv(b)


def images(letters, n, seed, lo, hi, size):
    "`n` images (uint8 `(n, size, size)`) and labels `(n, 26)`, cached in /tmp."
    f = Path(f'/tmp/dm_timm_start/{seed}-{n}-{lo}-{hi}-{size}.npz')
    if f.is_file():
        z = np.load(f); return z['x'], z['y']
    xs, ys = np.zeros((n, size, size), np.uint8), np.zeros((n, 26), np.uint8)
    for i in range(n):
        img, ys[i] = make_image(letters, seed, i, min_letters=lo, max_letters=hi)
        xs[i] = img if size == 256 else cv2.resize(img, (size, size), interpolation=cv2.INTER_LINEAR)
    np.savez(f, x=xs, y=ys)
    return xs, ys


def append_rows(path, rows):
    "Append the dicts `rows` to the curves CSV `path` (its header first when the file is new)."
    new = not Path(path).is_file()
    with open(path, 'a', newline='') as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        if new: w.writeheader()
        w.writerows(rows)


def norm(x): return x.float().div(255).sub(0.5).div(0.5)


class Slices:
    "A stand-in training DataLoader: epoch `e` is images `[e*every, (e+1)*every)` in batches, augmented per batch."
    n_inp = 1
    def __init__(self, x, y, every, bs, size, seed=0):
        self.x, self.y, self.every, self.bs, self.size, self.seed, self.epoch = x, y, every, bs, size, seed, 0
        self.device = torch.device('cpu')
    def __len__(self): return self.every // self.bs
    def batches(self, epoch):
        for k in range(len(self)):
            i = epoch * self.every + k * self.bs
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + i)
            x = augment_batch(torch.from_numpy(self.x[i:i + self.bs])[:, None].float(), g, self.size)
            yield x.div(255).sub(0.5).div(0.5), torch.from_numpy(self.y[i:i + self.bs]).float()
    def __iter__(self):
        yield from self.batches(self.epoch)
        self.epoch += 1
    def to(self, device): return self


class Fixed:
    n_inp = 1
    def __init__(self, x, y, bs=100): self.x, self.y, self.bs, self.device = x, y, bs, torch.device('cpu')
    def __len__(self): return math.ceil(len(self.x) / self.bs)
    def __iter__(self):
        for i in range(0, len(self.x), self.bs):
            x, y = self.x[i:i + self.bs], self.y[i:i + self.bs]
            yield norm(torch.from_numpy(x)[:, None]), torch.from_numpy(y).float()
    def to(self, device): return self


def scores(p, y):
    from sklearn.metrics import roc_auc_score
    return float(roc_auc_score(y, p, average='macro')), float(contest_accuracy(p, y, 0.5))


def cosine(lr, epoch, n_epoch, min_frac=0.01):
    lo = lr * min_frac
    return lo + (lr - lo) * (1 + math.cos(math.pi * epoch / max(n_epoch, 1))) / 2


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('model'); ap.add_argument('--variant', default='default', choices=list(VARIANTS))
    ap.add_argument('--data', default='curriculum', choices=['curriculum', 'contest'])
    ap.add_argument('--loop', default='learner', choices=['learner', 'bare'])
    ap.add_argument('--images', type=int, default=8000); ap.add_argument('--every', type=int, default=1600)
    ap.add_argument('--size', type=int, default=128); ap.add_argument('--bs', type=int, default=32)
    ap.add_argument('--lr', type=float, default=2e-3); ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--n-valid', type=int, default=400)
    ap.add_argument('--out', default=str(ROOT/'nbs'/'research'/'timm_curves.csv'))
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    lo, hi = (1, 3) if a.data == 'curriculum' else (10, 14)
    tl, vl = letters_pair()
    t0 = time.time()
    xt, yt = images(tl, a.images, 0, lo, hi, a.size)
    xv, yv = images(vl, a.n_valid, 1, lo, hi, a.size)
    print(f'data: {time.time() - t0:.0f} s', flush=True)
    import timm
    import dirtymnist.nets  # noqa: F401  (registers dm_smallcnn)
    torch.manual_seed(0)
    kw = dict(VARIANTS[a.variant])
    if a.model.startswith('dm_') and 'output_stride' in kw: kw.pop('output_stride')
    planes = a.variant.startswith('planes')
    model = timm.create_model(a.model, pretrained=False, in_chans=2 if planes else 1, num_classes=26, **kw)
    if planes: model = Planes(model)
    n_epoch = a.images // a.every
    tr, va = Slices(xt, yt, a.every, a.bs, a.size), Fixed(xv, yv)
    rows, clock = [], dict(train=0.0)
    cpu = 'AVX512-BF16' if torch.backends.cpu.get_cpu_capability().startswith('AVX512') else 'AVX2'
    def record(epoch, p, loss):
        auc, acc = scores(p, yv)
        seen = (epoch + 1) * len(tr) * a.bs
        r = dict(model=a.model, variant=a.variant, data=a.data, loop=a.loop, size=a.size, lr=a.lr, images=seen,
                 minutes=round(clock['train'] / 60, 3), images_s=round(seen / max(clock['train'], 1e-9), 1),
                 auc=round(auc, 4), accuracy=round(acc, 4), loss=round(loss, 4), threads=a.threads, cpu=cpu)
        rows.append(r); print(r, flush=True)
    if a.loop == 'bare':
        opt = torch.optim.AdamW(model.parameters(), lr=a.lr, eps=1e-6, weight_decay=1e-5)
        for e in range(n_epoch):
            for g in opt.param_groups: g['lr'] = cosine(a.lr, e, n_epoch)
            model.train(); t = time.time()
            for x, y in tr.batches(e):
                loss = F.binary_cross_entropy_with_logits(model(x), y)
                opt.zero_grad(); loss.backward(); opt.step()
            clock['train'] += time.time() - t
            model.eval()
            with torch.no_grad(): logits = torch.cat([model(x) for x, _ in va])
            yt = torch.from_numpy(yv).float()
            record(e, logits.sigmoid().numpy(), float(F.binary_cross_entropy_with_logits(logits, yt)))
    else:
        from fastai.callback.core import Callback
        from fastai.data.core import DataLoaders
        from dirtymnist.config import load_config
        from dirtymnist.learner import build_learner
        cfg = load_config('cpu_small', [f'model.model_name={a.model}', f'data.image_size={a.size}', f'optim.lr={a.lr}',
                                        f'train.batch_size={a.bs}', f'train.epochs={n_epoch}', 'train.precision=fp32',
                                        'train.max_minutes=0'])
        class Clock(Callback):
            order = 100
            def before_epoch(self): self.t = time.time()
            def before_validate(self): clock['train'] += time.time() - self.t
        class Probs(Callback):
            def before_validate(self): self.ps = []
            def after_batch(self):
                if not self.training: self.ps.append(self.learn.pred.detach().float())
            def after_validate(self):
                z = torch.cat(self.ps)
                yt = torch.from_numpy(yv).float()
                record(self.epoch, z.sigmoid().numpy(), float(F.binary_cross_entropy_with_logits(z, yt)))
        learn = build_learner(cfg, dls=DataLoaders(tr, va), model=model, cbs=[Clock(), Probs()])
        with learn.no_bar(), learn.no_logging(), warnings.catch_warnings():
            warnings.simplefilter('ignore')
            learn.fit(n_epoch, lr=a.lr)
    append_rows(a.out, rows)


if __name__ == '__main__':
    main()
